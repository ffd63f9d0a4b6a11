"""A board on a labgrid place: its console through the exporter's ser2net, its power by the place's
power resource (`labgrid-client power`).

The run holds the place (harness/lab/labgrid.py, taken with the session's devices in
harness/plugin/pool.py, released after the run); these drivers use it. The console is the place's
NetworkSerialPort, opened with the harness's own serial transport (rfc2217:// or socket://), so
it behaves as a terminal server does: it stays while the board is off. When the exporter stops,
the stream's error and every later open name the exporter and the place, so the test it hits is
INCONCLUSIVE saying which part of the lab went away.

Selected by a lab config's `labgrid` with a profile `console: serial: port: NAME` that the lab's
own `serial_ports` does not list: NAME is the place's serial resource (its name or a match's
rename); a place with one NetworkSerialPort gives it for any name.
"""

from __future__ import annotations

from harness.capabilities import ConsolePort, Power
from harness.device.registry import BuildContext, provides
from harness.errors import DeviceDisconnected, DeviceError
from harness.lab.labgrid import (
    POWER_CLASSES,
    SERIAL_CLASS,
    LabgridClient,
    LabgridError,
    PlaceResource,
    PlaceState,
    this_holder,
)
from harness.transports.serial import SerialStream
from harness.transports.stream import ByteStream
from harness.util.text import one_line

PROTOCOLS = {"rfc2217": "rfc2217", "raw": "socket"}  # NetworkSerialPort protocol -> pyserial scheme


class LabgridPlace:
    """The place this run holds, looked up on the coordinator when a driver needs it."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.client = LabgridClient(settings.coordinator, float(settings.timeout_s))
        self.name: str | None = settings.place

    def state(self) -> PlaceState:
        """The held place's state; DeviceError when this run does not hold it (any more)."""
        places = self.client.places()
        if self.name is None:  # by tags: the matching place this host and user acquired
            mine = [
                name
                for name, state in places.items()
                if state.acquired == this_holder() and self.settings.tags.items() <= state.tags.items()
            ]
            if len(mine) != 1:
                raise DeviceError(
                    f"labgrid: {len(mine)} places with tags {self.settings.tags} are acquired by "
                    f"{this_holder()} at {self.settings.coordinator}, expected the one this run holds"
                )
            self.name = mine[0]
        state = places.get(self.name)
        if state is None or state.acquired != this_holder():
            holder = "nobody" if state is None or not state.acquired else state.acquired
            raise DeviceError(f"labgrid place {self.name} is not held by this run (acquired by {holder})")
        return state

    def describe(self) -> str:
        wanted = self.name or ",".join(f"{k}={v}" for k, v in sorted(self.settings.tags.items()))
        return f"labgrid place {wanted} at {self.settings.coordinator}"


def serial_resource(state: PlaceState, wanted: str) -> PlaceResource:
    """The place's NetworkSerialPort named `wanted`, or its only one."""
    ports = state.of_class(SERIAL_CLASS)
    named = [port for port in ports if port.name == wanted]
    if named:
        return named[0]
    if len(ports) == 1:
        return ports[0]
    names = ", ".join(port.name for port in ports) or "none"
    raise DeviceError(
        f"labgrid place {state.name} has no serial port {wanted!r} (its NetworkSerialPorts: {names}); "
        "name one in the profile's console.serial.port"
    )


def serial_url(resource: PlaceResource) -> str:
    """rfc2217://host:port or socket://host:port of an exported serial port."""
    params = resource.params
    scheme = PROTOCOLS.get(str(params.get("protocol") or "rfc2217"))
    if scheme is None:
        raise DeviceError(
            f"labgrid serial port {resource.where}: protocol {params.get('protocol')!r} unknown"
        )
    host, port = params.get("host"), params.get("port")
    if not resource.avail or not host or not port:
        raise DeviceDisconnected(
            f"labgrid exporter {resource.exporter} does not serve the console {resource.where} "
            "(the exporter stopped, or lost the serial port)"
        )
    return f"{scheme}://{host}:{int(port)}"


class ExporterStream:
    """The console's stream; its errors name the exporter, and what the coordinator says of it."""

    def __init__(self, stream: ByteStream, place: LabgridPlace, resource: PlaceResource) -> None:
        self.stream, self.place, self.resource = stream, place, resource
        self.description = f"{stream.description} (labgrid {resource.where})"

    def _lost(self, error: DeviceError) -> DeviceDisconnected:
        try:
            serial_url(serial_resource(self.place.state(), self.resource.name))
            now = "the coordinator still lists it"
        except (DeviceError, LabgridError) as err:
            now = one_line(str(err))
        return DeviceDisconnected(
            f"console of {self.place.describe()} through exporter {self.resource.exporter} lost: {error}; {now}"
        )

    def read(self, size: int, timeout: float) -> bytes:
        try:
            return self.stream.read(size, timeout)
        except DeviceDisconnected as error:
            raise self._lost(error) from error

    def write(self, data: bytes) -> None:
        try:
            self.stream.write(data)
        except DeviceDisconnected as error:
            raise self._lost(error) from error

    def close(self) -> None:
        self.stream.close()


class LabgridConsolePort(ConsolePort):
    def __init__(self, place: LabgridPlace, port: str, baudrate: int | None) -> None:
        self.place, self.port, self.baudrate = place, port, baudrate
        self.description = f"serial {port!r} of {place.describe()}"

    @property
    def follows_power(self) -> bool:
        return False  # ser2net on the exporter keeps the port while the board is off

    def start(self) -> None:
        self.place.state()  # this run holds the place: say so now, not at the first test

    def open(self) -> ByteStream:
        try:
            resource = serial_resource(self.place.state(), self.port)
        except LabgridError as err:
            raise DeviceDisconnected(f"console of {self.place.describe()}: {err}") from err
        url = serial_url(resource)
        speed = int(self.baudrate or resource.params.get("speed") or 115200)
        return ExporterStream(SerialStream(url, speed), self.place, resource)


class LabgridPower(Power):
    """`labgrid-client power on|off|cycle` on the held place (any power resource labgrid drives)."""

    def __init__(self, place: LabgridPlace) -> None:
        self.place = place
        self.description = f"power of {place.describe()}"

    def _switch(self, action: str) -> None:
        name = self.place.name or self.place.state().name
        try:
            self.place.client.power(name, action)
        except LabgridError as err:
            gone = self._unserved()
            if gone:
                raise DeviceDisconnected(f"power {action} of {self.place.describe()}: {gone}") from err
            raise

    def _unserved(self) -> str:
        """Why the place's power resource is gone ("" when it is there, or the coordinator is silent)."""
        try:
            state = self.place.state()
        except (DeviceError, LabgridError):
            return ""
        power = [resource for resource in state.resources if resource.cls in POWER_CLASSES]
        if power and all(resource.avail for resource in power):
            return ""
        exporters = ", ".join(sorted({resource.exporter for resource in power})) or "none"
        return (
            f"labgrid exporter {exporters} does not serve the place's power resource "
            "(the exporter stopped, or lost it)"
        )

    def on(self) -> None:
        self._switch("on")

    def off(self) -> None:
        self._switch("off")

    def cycle(self) -> None:
        self._switch("cycle")

    def is_on(self) -> bool | None:
        return None  # the console shows whether the board runs


def _place(ctx: BuildContext) -> LabgridPlace | None:
    settings = getattr(ctx.lab, "labgrid", None)
    if settings is None:
        return None
    return ctx.share("labgrid-place", lambda: LabgridPlace(settings))


@provides(ConsolePort, order=40)
def _labgrid_console(ctx: BuildContext) -> LabgridConsolePort | None:
    serial = ctx.profile.console.serial
    if serial is None or serial.port is None or serial.port in ctx.lab.serial_ports:
        return None
    place = _place(ctx)
    return LabgridConsolePort(place, serial.port, serial.baudrate) if place is not None else None


@provides(Power, order=40)
def _labgrid_power(ctx: BuildContext) -> LabgridPower | None:
    place = _place(ctx)
    if place is None or not place.settings.power or ctx.lab.power is not None:
        return None  # a lab's own power commands win over the place's
    return LabgridPower(place)

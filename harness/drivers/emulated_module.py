"""The reference device's emulated cellular module, attached to the emulated board.

The module's AT port is the guest's second serial port (ttyS1, a QEMU chardev socket); its
radio is a mobile station on the lab cell's virtual radio (only an Osmocom cell with
osmo-bts-virtual has one: with any other cell, or none, the module has no coverage). For the
lab side it provides an AtPort: a further AT channel of the same module, like a real module's
second USB AT interface. Its weaknesses are the reference image's module knobs. It is an
emulation of a module, named so everywhere it appears.
"""

from __future__ import annotations

from harness.capabilities import AtPort, TestCell
from harness.device.registry import BuildContext, provides
from harness.drivers.emulated import BOARD, EmulatedBoard
from harness.emulation.cellular import SIM_IMSI, SIM_KI, SMS_PIN
from harness.emulation.module.mobile_station import MsPolicy, Sim
from harness.emulation.module.module import GuestPort, LabChannels, ModuleCore, ModulePolicy
from harness.emulation.variants import IMEI, Variant, get_variant
from harness.errors import DeviceError
from harness.transports.stream import ByteStream

MODULE_SERIAL = "cellular-module"  # the board's ttyS1


def _variant(ctx: BuildContext) -> Variant:
    qemu = ctx.profile.console.qemu
    if qemu.weaknesses is not None:
        return Variant.custom(set(qemu.weaknesses))
    return get_variant(qemu.reference_image)


class EmulatedModuleAtPort(AtPort):
    """A lab AT channel of the emulated module (an emulation of a GSM module, not a modem)."""

    def __init__(self, ctx: BuildContext, board: EmulatedBoard) -> None:
        self.ctx = ctx
        self.board = board
        variant = _variant(ctx)
        self.policy = ModulePolicy(
            radio=MsPolicy(
                accept_unciphered=variant.has("gsm-null-cipher-accepted"),
                imsi_before_authentication=variant.has("imsi-disclosed-before-auth"),
            ),
            class0_silent_to_application=variant.has("sms-class0-silent-to-app"),
        )
        self.core: ModuleCore | None = None
        self._guest: GuestPort | None = None
        self._lab: LabChannels | None = None
        self.description = (
            "AT channel of the emulated GSM module (an emulation, not a modem) on the board's ttyS1"
        )
        board.extra_serial.append(MODULE_SERIAL)
        board.boot_word_sources.append(lambda: [f"hilsec.sms_pin={SMS_PIN}"])

    def start(self) -> None:
        cell = self.ctx.shared.get(TestCell)
        radio = getattr(cell, "virtual_um", None) if cell is not None else None
        self.core = ModuleCore(Sim(SIM_IMSI, bytes.fromhex(SIM_KI)), IMEI, self.policy, radio,
                               log_path=self.ctx.workdir / "cellular-module.log")  # fmt: skip
        self._lab = LabChannels(self.core)
        machine = self.board.require_machine()
        self._guest = GuestPort(self.core, machine.extra_serial_path(MODULE_SERIAL))
        self._guest.start()

    def stop(self) -> None:
        for part in (self._guest, self._lab, self.core):
            if part is not None:
                part.stop()

    def open(self) -> ByteStream:
        if self._lab is None:
            raise DeviceError("the emulated cellular module is not started")
        return self._lab.open()

    def identity(self) -> dict[str, str]:
        core = self.core
        radio = (
            core.radio.describe()
            if core is not None and core.radio is not None
            else "none (no virtual radio)"
        )
        return {
            "cellular_module": "emulated GSM module (hilsec emulation, not a modem)",
            "cellular_module_radio": radio,
        }


@provides(AtPort, order=10)
def _emulated_module(ctx: BuildContext) -> EmulatedModuleAtPort | None:
    qemu = ctx.profile.console.qemu
    if qemu is None or not qemu.reference_image:
        return None
    board = ctx.shared.get(BOARD)
    if board is None:
        return None
    return EmulatedModuleAtPort(ctx, board)

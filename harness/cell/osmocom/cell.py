"""OsmocomCell: a real GSM network from Debian's Osmocom packages, as a TestCell.

osmo-stp, osmo-hlr, osmo-mgw, osmo-msc, osmo-bsc and a BTS (osmo-bts-virtual, whose radio is
GSMTAP multicast, or osmo-bts-trx for a lab's SDR) run in the cell's own network namespace
from configs written here (harness.cell.osmocom.configs). The cell is driven over VTY (HLR
subscribers, MSC subscriber state, runtime security), CTRL and SMPP (SMS with raw TP fields, in
transaction mode so the answer is the delivery outcome). With the virtual BTS, a RadioMonitor
records the radio as pcap and decodes what the network saw.

Reconfiguring keeps what a real attacker's cell would not share: a new location area or
security restarts the BSC and BTS (the mobile station sees its cell vanish and a new one appear);
identity requests for the IMSI restart the MSC as well, so its VLR knows no TMSI (the network a
device roams into, or an IMSI catcher); the HLR keeps the subscribers throughout.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

from harness.capabilities.cell import TestCell
from harness.cell.model import (
    Attachment,
    CellEvent,
    CellSecurity,
    MtSms,
    NetworkIdentity,
    SmsDelivery,
    Subscriber,
)
from harness.cell.osmocom import configs
from harness.cell.osmocom.configs import PORTS
from harness.cell.osmocom.control import Ctrl, Vty, port_open, vty
from harness.cell.osmocom.namespace import CellNamespace
from harness.cell.osmocom.shim import build_shim, kernel_has_sctp
from harness.cell.osmocom.smpp import SmppSender
from harness.cell.radio_monitor import RadioMonitor
from harness.cell.virtual_um import VirtualUm
from harness.errors import HarnessSetupError
from harness.util.deadlines import wait_until
from harness.util.processes import stop_process

START_TIMEOUT_S = 30.0
POLL_S = 0.1
LOG_TAIL = 1500
PACKAGES = {
    "osmo-stp": "osmo-stp",
    "osmo-hlr": "osmo-hlr",
    "osmo-mgw": "osmo-mgw",
    "osmo-msc": "osmo-msc",
    "osmo-bsc": "osmo-bsc",
    "osmo-bts-virtual": "osmo-bts",
    "osmo-bts-trx": "osmo-bts",
}


@dataclass
class _Program:
    name: str
    binary: str
    vty_port: int
    process: subprocess.Popen | None = None
    log: object | None = None


class OsmocomCell(TestCell):
    """The Osmocom network as a TestCell. `bts`: "virtual" (GSMTAP radio) or "trx" (an SDR)."""

    def __init__(self, workdir: Path, cache_dir: Path, *, network: NetworkIdentity | None = None,
                 security: CellSecurity | None = None, bts: str = "virtual", trx_address: str = "127.0.0.1",
                 trx_command: str | None = None) -> None:  # fmt: skip
        if bts not in ("virtual", "trx"):
            raise ValueError(f"bts {bts!r}: expected virtual or trx")
        self.workdir = Path(workdir)
        self.cache_dir = Path(cache_dir)
        self._identity = network or NetworkIdentity()
        self._security = security or CellSecurity()
        self.bts = bts
        self.trx_address = trx_address
        self.trx_command = trx_command
        self.namespace = CellNamespace()
        self.smpp_password = secrets.token_hex(4)  # SMPP passwords have at most 8 characters
        self.subscribers: dict[str, Subscriber] = {}
        self.monitor: RadioMonitor | None = None
        self.started_at: float | None = None
        self.start_seconds: float | None = None
        self.configurations = 0
        self._programs: dict[str, _Program] = {}
        self._extra: subprocess.Popen | None = None
        self._smpp: SmppSender | None = None
        self._notes: list[CellEvent] = []
        self._shim: Path | None = None
        self.description = (
            "Osmocom GSM network (osmo-msc, osmo-bsc, "
            + ("osmo-bts-virtual" if bts == "virtual" else "osmo-bts-trx + osmo-trx")
            + ") in its own network namespace"
        )
        self.radio = (
            "virtual radio (osmo-bts-virtual, GSMTAP over multicast; no RF)"
            if bts == "virtual"
            else "SDR (osmo-bts-trx with osmo-trx)"
        )

    # --- what the cell is ---------------------------------------------------------------------
    @property
    def network(self) -> NetworkIdentity:
        return self._identity

    @property
    def security(self) -> CellSecurity:
        return self._security

    @property
    def virtual_um(self) -> VirtualUm | None:
        """The cell's virtual radio, for an emulated module's mobile station (virtual BTS only)."""
        if self.bts != "virtual" or not self.namespace.created:
            return None
        return VirtualUm(self.namespace.name, self._identity.arfcn)

    def identity(self) -> dict[str, str]:
        info = {"cell": self.description, "cell_radio": self.radio, "cell_network": self._identity.describe()}
        if self.start_seconds is not None:
            info["cell_start_seconds"] = f"{self.start_seconds:.2f}"
        return info

    # --- life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self.started_at is not None:
            return
        for binary, package in PACKAGES.items():
            if binary.startswith("osmo-bts-") and binary != f"osmo-bts-{self.bts}":
                continue
            if shutil.which(binary) is None:
                raise HarnessSetupError(
                    f"{binary} is not installed; install Debian's {package} (Makefile APT_PACKAGES)"
                )
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        shim = None if kernel_has_sctp() else build_shim(self.cache_dir)
        self._shim = shim
        self.namespace.create()
        try:
            self._write_configs()
            if self.bts == "virtual":
                self.monitor = RadioMonitor(self.virtual_um, self.workdir / "radio-gsmtap.pcap")
                self.monitor.start()
            for name in ("osmo-stp", "osmo-hlr", "osmo-mgw"):
                self._start_program(name)
            self._start_program("osmo-msc")
            self._start_program("osmo-bsc")
            self._wait_a_link()
            self._start_bts()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.started_at = time.time()
        self.start_seconds = time.monotonic() - started
        self._note("cell up", f"{self._identity.describe()}; {self._security.describe()} "
                              f"({self.start_seconds:.1f} s)")  # fmt: skip

    def stop(self) -> None:
        if self._smpp is not None:
            self._smpp.close()
            self._smpp = None
        for name in reversed(list(self._programs)):
            self._stop_program(name)
        if self._extra is not None:
            stop_process(self._extra, group=True)
            self._extra = None
        if self.monitor is not None:
            self.monitor.stop()
        self.namespace.destroy()
        self.started_at = None

    # --- programs -----------------------------------------------------------------------------
    _PROGRAMS = {
        "osmo-stp": PORTS.stp_vty,
        "osmo-hlr": PORTS.hlr_vty,
        "osmo-mgw": PORTS.mgw_vty,
        "osmo-msc": PORTS.msc_vty,
        "osmo-bsc": PORTS.bsc_vty,
        "osmo-bts": PORTS.bts_vty,
    }

    def _config_path(self, name: str) -> Path:
        return self.workdir / f"{name}.cfg"

    def _write_configs(self) -> None:
        identity, security = self._identity, self._security
        texts = {
            "osmo-stp": configs.stp_config(),
            "osmo-hlr": configs.hlr_config(str(self.workdir / "hlr.db")),
            "osmo-mgw": configs.mgw_config(),
            "osmo-msc": configs.msc_config(
                identity,
                security,
                sms_database=str(self.workdir / "sms.db"),
                smpp_password=self.smpp_password,
            ),  # fmt: skip
            "osmo-bsc": configs.bsc_config(identity, security),
            "osmo-bts": configs.bts_virtual_config(identity)
            if self.bts == "virtual"
            else configs.bts_trx_config(identity, self.trx_address),
        }
        for name, text in texts.items():
            self._config_path(name).write_text(text)

    def _start_program(self, name: str) -> None:
        binary = f"osmo-bts-{self.bts}" if name == "osmo-bts" else name
        program = _Program(name, binary, self._PROGRAMS[name])
        env = {"LD_PRELOAD": str(self._shim)} if name == "osmo-msc" and self._shim else None
        log = (self.workdir / f"{name}.log").open("ab")
        argv = self.namespace.command([binary, "-c", str(self._config_path(name))], env)
        program.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir,
            start_new_session=True,
        )  # fmt: skip
        program.log = log
        self._programs[name] = program
        process = program.process

        def vty_open() -> bool:
            if port_open(self.namespace.name, program.vty_port):
                return True
            if process.poll() is not None:
                raise HarnessSetupError(f"{binary} exited at start (status {process.returncode}):\n"
                                        f"{self._log_tail(name)}")  # fmt: skip
            return False

        if not wait_until(vty_open, START_TIMEOUT_S, 0.02):
            raise HarnessSetupError(f"{binary}: its VTY did not open in {START_TIMEOUT_S:.0f} s")

    def _start_bts(self) -> None:
        if self.bts == "trx" and self.trx_command:
            log = (self.workdir / "osmo-trx.log").open("ab")
            self._extra = subprocess.Popen(
                self.namespace.command(["/bin/sh", "-c", self.trx_command]), stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self._start_program("osmo-bts")

    def _stop_program(self, name: str) -> None:
        program = self._programs.pop(name, None)
        if program is None:
            return
        if program.process is not None:
            # osmo-bts ramps its power down for seconds on SIGTERM; a cell that vanishes is the point.
            # The half second it still transmits is needed: a station whose attach the VLR already
            # counts may still be finishing its connection (killed at once, the link went mid-release).
            stop_process(program.process, timeout=0.5 if name == "osmo-bts" else 5.0, group=True)
        if program.log is not None:
            program.log.close()

    def _log_tail(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        try:
            return path.read_bytes()[-LOG_TAIL:].decode(errors="replace")
        except OSError:
            return ""

    def _alive(self) -> None:
        for name, program in self._programs.items():
            if program.process is not None and program.process.poll() is not None:
                raise HarnessSetupError(f"{program.binary} exited (status {program.process.returncode}):\n"
                                        f"{self._log_tail(name)}")  # fmt: skip

    def _wait_a_link(self) -> None:
        def connected() -> bool:
            self._alive()
            try:
                # The BSC's own view: the MSC may still list the previous BSC instance as READY.
                ctrl = Ctrl(self.namespace.name, PORTS.bsc_ctrl)
                try:
                    return ctrl.get("msc.0.connection_status") == "connected"
                finally:
                    ctrl.close()
            except HarnessSetupError:
                return False

        if not wait_until(connected, START_TIMEOUT_S, POLL_S):
            raise HarnessSetupError(f"osmo-bsc's A link to osmo-msc was not up in {START_TIMEOUT_S:.0f} s")

    def _wait_ready(self) -> None:
        """Every program up: the BTS's OML and RSL on the BSC, the BSC's A link RESET by the MSC."""
        missing: list[str] = []

        def ready() -> bool:
            missing[:] = self._not_up()
            return not missing

        if not wait_until(ready, START_TIMEOUT_S, POLL_S):
            raise HarnessSetupError(f"the Osmocom cell did not come up in {START_TIMEOUT_S:.0f} s: "
                                    f"no {', no '.join(missing)}")  # fmt: skip

    def _not_up(self) -> list[str]:
        """What of the cell is not up yet (empty when all is); raises if a program exited."""
        self._alive()
        ns = self.namespace.name
        try:
            bsc_view, trx_view = vty(ns, PORTS.bsc_vty, "show bts 0", "show trx 0 0")
            msc_view = vty(ns, PORTS.msc_vty, "show bsc")[0]
        except HarnessSetupError:
            bsc_view = trx_view = msc_view = ""
        oml = "OML Link state: connected" in bsc_view
        rsl = "RSL State: connected" in trx_view or "rsl state: connected" in trx_view.lower()
        a_link = "READY" in msc_view
        radio = self.monitor is None or self.monitor.frames > 0
        return [what for what, ok in (("BTS OML", oml), ("BTS RSL", rsl), ("A link to the MSC", a_link),
                                      ("radio frames", radio)) if not ok]  # fmt: skip

    # --- configuration ------------------------------------------------------------------------
    def configure(
        self, *, network: NetworkIdentity | None = None, security: CellSecurity | None = None
    ) -> None:
        new_identity, new_security = network or self._identity, security or self._security
        fresh_vlr = "imsi" in new_security.identity_requests
        restart_msc = (fresh_vlr or new_identity.plmn != self._identity.plmn
                       or new_security.identity_requests != self._security.identity_requests)  # fmt: skip
        self._identity, self._security = new_identity, new_security
        self._write_configs()
        if self._smpp is not None:
            self._smpp.close()
            self._smpp = None
        self._stop_program("osmo-bts")
        self._stop_program("osmo-bsc")
        if restart_msc:
            self._stop_program("osmo-msc")
            self._start_program("osmo-msc")
        else:
            with Vty(self.namespace.name, PORTS.msc_vty) as session:
                session.configure(
                    "network",
                    f"encryption a5 {' '.join(str(c) for c in new_security.ciphers)}",
                    f"authentication {'required' if new_security.authentication else 'optional'}",
                )
        self._start_program("osmo-bsc")
        self._wait_a_link()  # a BTS broadcasting before the A link is up loses the first accesses
        self._start_bts()
        self._wait_ready()
        self.configurations += 1
        self._note("cell reconfigured", f"{new_identity.describe()}; {new_security.describe()}"
                                        f"{'; MSC restarted with an empty VLR' if restart_msc else ''}")  # fmt: skip

    def _note(self, kind: str, detail: str) -> None:
        if self.monitor is not None:
            self.monitor.note(kind, detail)
        else:
            self._notes.append(CellEvent(time.time(), kind, "network", 0, "", detail))

    # --- subscribers --------------------------------------------------------------------------
    def add_subscriber(self, subscriber: Subscriber) -> None:
        if not subscriber.msisdn:
            subscriber = replace(subscriber, msisdn="9" + subscriber.imsi[-8:])
        prefix = f"subscriber imsi {subscriber.imsi}"
        outputs = vty(
            self.namespace.name, PORTS.hlr_vty,
            f"{prefix} create",
            f"{prefix} update msisdn {subscriber.msisdn}",
            f"{prefix} update aud2g {subscriber.algorithm} ki {subscriber.ki}",
        )  # fmt: skip
        problems = [o for o in outputs[1:] if o.startswith("%") and "Updated" not in o]
        if problems:
            raise HarnessSetupError(f"osmo-hlr refused subscriber {subscriber.imsi}: {problems[0]}")
        self.subscribers[subscriber.imsi] = subscriber

    def subscriber_state(self, imsi: str) -> dict[str, str]:
        """The MSC's VLR record of a subscriber (empty when the VLR does not know it)."""
        text = vty(self.namespace.name, PORTS.msc_vty, f"show subscriber imsi {imsi}")[0]
        if "No subscriber" in text or "%" in text[:2]:
            return {}
        state = {}
        for line in text.splitlines():
            key, sep, value = line.strip().partition(":")
            if sep and key:
                state[key.strip()] = value.strip()
        return state

    def wait_attached(self, imsi: str, timeout: float) -> Attachment:
        started = time.monotonic()
        lac = str(self._identity.lac)
        state: dict[str, str] = {}

        def attached() -> bool:
            nonlocal state
            self._alive()
            state = self.subscriber_state(imsi)
            return attached_in(state, lac)

        if wait_until(attached, timeout, 0.2):
            return Attachment(imsi, True, time.monotonic() - started,
                              f"attached in LAC {lac} with TMSI {state.get('TMSI', 'none')}")  # fmt: skip
        return Attachment(imsi, False, time.monotonic() - started,
                          f"not attached in LAC {lac} within {timeout:.0f} s (VLR: {_vlr_story(state)})")  # fmt: skip

    # --- SMS ----------------------------------------------------------------------------------
    def send_sms(self, imsi: str, sms: MtSms, timeout: float) -> SmsDelivery:
        subscriber = self.subscribers.get(imsi)
        if subscriber is None:
            return SmsDelivery("failed", 0.0, f"subscriber {imsi} was never added to this cell")
        if self._smpp is None:
            self._smpp = SmppSender(
                self.namespace.name, PORTS.smpp, configs.SMPP_SYSTEM_ID, self.smpp_password
            )
        delivery = self._smpp.deliver(subscriber.msisdn, sms, timeout)
        if delivery.outcome == "timeout":  # the session may be stuck: a fresh one next time
            self._smpp.close()
            self._smpp = None
        self._note("sms submitted", f"{sms.label or 'SMS'} to {subscriber.msisdn}: {delivery.outcome} "
                                    f"after {delivery.seconds:.1f} s")  # fmt: skip
        return delivery

    # --- evidence -----------------------------------------------------------------------------
    def events(self, since: float | None = None) -> list[CellEvent]:
        if self.monitor is not None:
            return self.monitor.events(since)
        return [e for e in self._notes if since is None or e.when >= since]

    def await_events(self, timeout: float) -> None:
        """The radio monitor has decoded every frame that arrived before now (notes are immediate)."""
        if self.monitor is not None:
            self.monitor.caught_up(time.time(), timeout)

    def evidence(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for path in sorted(self.workdir.glob("*.log")) + sorted(self.workdir.glob("*.cfg")):
            target = folder / f"cell-{path.name}"
            text = path.read_bytes()[-4 * 1024 * 1024 :].decode(errors="replace")
            target.write_text(re.sub(re.escape(self.smpp_password), "<redacted>", text))
            written.append(target)
        if self.monitor is not None:
            self.monitor.flush()
        pcap = self.workdir / "radio-gsmtap.pcap"
        if pcap.is_file():
            target = folder / "cell-radio-gsmtap.pcap"
            shutil.copyfile(pcap, target)
            written.append(target)
        return written


def attached_in(state: dict[str, str], lac: str) -> bool:
    """Whether a VLR record (`show subscriber`) says location updating in `lac` is complete.

    Complete means: the record is in that LAC, the new TMSI is confirmed ("New TMSI" until then),
    the subscriber is not detached, the HLR confirmed the location, and no connection is left: a
    subscriber already attached that is updating again shows "attached,active-conn", and an SMS
    submitted then is lost with that connection when it is released.
    """
    return (
        state.get("LAC / cell ID", "").split("/")[0].strip() == lac
        and "New TMSI" not in state
        and _uses(state) == {"attached"}
        and state.get("IMSI detached") == "false"
        and state.get("Location conf. in HLR") == "true"
    )


def _uses(state: dict[str, str]) -> set[str]:
    """The VLR record's users: "2 (attached,active-conn)" -> {"attached", "active-conn"}."""
    inside = state.get("Use count", "").partition("(")[2].rstrip(")")
    return {use.strip() for use in inside.split(",") if use.strip()}


def _vlr_story(state: dict[str, str]) -> str:
    """What the VLR record says, for a wait that failed: where, and which step is still open."""
    if not state:
        return "not in the VLR"
    keys = ("LAC / cell ID", "New TMSI", "Use count", "IMSI detached", "Location conf. in HLR")
    return ", ".join(f"{key}: {state[key]}" for key in keys if key in state)

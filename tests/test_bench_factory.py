"""What the factory makes of a bench profile and lab config: each key selects its driver.

`serial_ports` is read through `console.serial.port` and `cellular.modem.serial.port`; power,
capture and the lab LAN come from the lab config; a capability the bench lacks is absent and
asking for it names the key that would provide it. Mistakes are one line naming file and field.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.capabilities import AtPort, Capture, ConsolePort, LabAddressing, MissingCapability, Power
from harness.config.loader import load_lab_config, load_profile
from harness.device import Device
from harness.device.factory import build_capabilities
from harness.device.registry import BuildContext
from harness.errors import ConfigError

PROFILE = {
    "name": "bench-board",
    "vendor": "Example",
    "model": "Node",
    "firmware_version": "1",
    "console": {"serial": {"port": "board-console"}},
    "login": {"username": "root", "password": "x-Secret-1"},
    "network": {"address": "192.0.2.50"},
    "cellular": {"modem": {"serial": {"port": "modem-at"}}},
}
LAB = {
    "name": "bench 3",
    "serial_ports": {
        "board-console": {"url": "/dev/ttyUSB0", "baudrate": 921600},
        "modem-at": {"url": "rfc2217://bench-3.lab.example:4002"},
    },
    "servers": {"bind_address": "192.0.2.1", "syslog_udp_port": 5514},
    "capture": {"interface": "eth1"},
    "network": {"namespace": "lab-lan"},
    "power": {"on": "pdu 3 on", "off": "pdu 3 off"},
}


def _load(tmp_path: Path, profile: dict, lab: dict):
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(profile))
    (tmp_path / "l.yaml").write_text(yaml.safe_dump(lab))
    return load_profile(tmp_path / "p.yaml"), load_lab_config(tmp_path / "l.yaml")


def test_a_bench_gets_its_drivers_from_the_profile_and_lab_config(tmp_path: Path) -> None:
    profile, lab = _load(tmp_path, PROFILE, LAB)
    caps = build_capabilities(BuildContext(profile, lab, tmp_path))
    console = caps[ConsolePort]
    assert (console.url, console.baudrate) == ("/dev/ttyUSB0", 921600)  # the named lab port
    assert not console.follows_power  # a USB adapter stays when the board is off
    at = caps[AtPort]
    assert (at.url, at.baudrate) == ("rfc2217://bench-3.lab.example:4002", 115200)
    assert caps[Power].description.startswith("power by command")
    assert caps[Capture].description == "capture on interface eth1"
    network = caps[LabAddressing]
    assert (network.device_address, network.bind_address, network.side.namespace) == (
        "192.0.2.50",
        "192.0.2.1",
        "lab-lan",
    )


def test_a_bench_without_power_names_the_key_that_would_provide_it(tmp_path: Path) -> None:
    profile, lab = _load(tmp_path, PROFILE, {k: v for k, v in LAB.items() if k != "power"})
    device = Device(profile, lab, workdir=tmp_path / "lab")
    assert device.get(Power) is None
    with pytest.raises(MissingCapability, match="lab config: power"):
        device.require(Power, "power-cycle the board")


def test_a_serial_port_name_the_lab_does_not_list_is_one_line(tmp_path: Path) -> None:
    profile, lab = _load(tmp_path, {**PROFILE, "console": {"serial": {"port": "board-7"}}}, LAB)
    with pytest.raises(ConfigError) as caught:
        build_capabilities(BuildContext(profile, lab, tmp_path))
    message = str(caught.value)
    assert "\n" not in message and "serial_ports.board-7" in message and "board-console" in message


def test_an_unknown_hardening_knob_is_one_line(tmp_path: Path) -> None:
    data = {**PROFILE, "console": {"qemu": {"reference_image": "hardened", "hardening": ["lockout"]}}}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as caught:
        load_profile(tmp_path / "p.yaml")
    message = str(caught.value)
    assert "\n" not in message and "unknown hardening lockout" in message and "console-lockout" in message

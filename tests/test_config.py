"""Profiles and lab configs: good files load; every kind of mistake is one line naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import (
    DeviceProfile,
    LabConfig,
    load_any,
    load_default_credentials,
    load_lab_config,
    load_profile,
    validate_files,
)
from harness.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
PROFILES = sorted((ROOT / "device_profiles").glob("*.yaml"))
LAB_CONFIGS = sorted((ROOT / "lab_configs").glob("*.yaml"))

GOOD_PROFILE = """\
name: bench-modem
vendor: Example
model: M1
firmware_version: "2.3"
launch_date: 2025-03-01
end_of_support_date: 2028-03-01
update_policy:
  security_update_cadence_days: 30
  support_period_months: 36
  release_history:
    - {version: "2.3", date: 2025-06-01, security_only: true, cves: [CVE-2025-1234],
       operator_received: 2025-06-02, operator_approved: 2025-06-05}
console:
  serial:
    url: rfc2217://lab-host:4001
    baudrate: 115200
login:
  username: admin
  password: "s3cret-Pass"
network:
  address: 192.0.2.10
  services:
    - {name: ssh, protocol: tcp, port: 22, login: ssh}
    - {name: coaps, protocol: udp, port: 5684}
features:
  telnet: false
  ssh: true
  secure_boot: uefi
  usb: false
  reasons:
    usb: "the module has no USB port"
secure_communication:
  observation_seconds: 15
  plaintext_allowed:
    - {protocol: udp, port: 123, reason: NTP time sync}
"""


def write(tmp_path: Path, text: str, name: str = "profile.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(path: Path, loader=load_any) -> str:
    with pytest.raises(ConfigError) as info:
        loader(path)
    message = str(info.value)
    assert "\n" not in message, message
    assert message.startswith(f"{path}: "), message
    return message


# --- good files ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_shipped_profiles_load(path: Path) -> None:
    profile = load_profile(path)
    assert isinstance(profile, DeviceProfile)
    assert profile.console.kind == "qemu"
    assert profile.console.qemu.reference_image in ("hardened", "vulnerable")
    assert profile.secure_communication.observation_seconds > 0
    assert load_any(path) == profile


@pytest.mark.parametrize("path", LAB_CONFIGS, ids=lambda p: p.name)
def test_shipped_lab_configs_load(path: Path) -> None:
    lab = load_lab_config(path)
    assert isinstance(lab, LabConfig)
    assert lab.qemu.accel in ("auto", "tcg", "kvm")
    assert isinstance(load_any(path), LabConfig)


EXAMPLES = sorted((ROOT / "device_profiles" / "examples").glob("*.yaml")) + sorted(
    (ROOT / "lab_configs" / "examples").glob("*.yaml")
)


def test_validate_files_is_empty_for_shipped_files_and_examples() -> None:
    assert EXAMPLES
    assert validate_files([*PROFILES, *LAB_CONFIGS, *EXAMPLES]) == []


def test_validate_files_walks_folders(tmp_path: Path) -> None:
    assert validate_files([ROOT / "device_profiles", ROOT / "lab_configs"]) == []
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "name: x\nqemu: {accel: hvf}\n", "lab.yaml")
    assert len(validate_files([tmp_path])) == 1


def test_example_profile_declares_every_feature() -> None:
    profile = load_profile(ROOT / "device_profiles" / "examples" / "serial-modem.yaml")
    assert all(profile.features.has(name) is not None for name in profile.features.names())


def test_full_profile_loads(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, GOOD_PROFILE))
    assert profile.console.kind == "serial"
    assert profile.console.serial.url == "rfc2217://lab-host:4001"
    assert profile.network.services[1].login == "none"
    assert profile.update_policy.release_history[0].cves == ["CVE-2025-1234"]
    assert profile.features.has("secure_boot") is True
    assert profile.features.kind("secure_boot") == "uefi"
    assert profile.features.has("bootloader_console") is None
    assert profile.features.absence_reason("usb") == "the module has no USB port"
    assert profile.features.absence_reason("telnet") == "the device profile declares no telnet"
    assert profile.features.absence_reason("ssh") is None
    (allowance,) = profile.secure_communication.plaintext_allowed
    assert (allowance.protocol, allowance.port, allowance.reason) == ("udp", 123, "NTP time sync")
    with pytest.raises(KeyError):
        profile.features.has("teleport")


def test_password_never_shown(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, GOOD_PROFILE))
    assert profile.secrets() == ["s3cret-Pass"]
    assert profile.login.password == "s3cret-Pass"
    for shown in (
        repr(profile),
        str(profile),
        str(profile.model_dump()),
        profile.model_dump_json(),
        str(profile.summary()),
    ):
        assert "s3cret-Pass" not in shown


def test_relative_paths_resolve_against_the_file(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "vmlinuz").write_bytes(b"k")
    (tmp_path / "images" / "initrd.cpio").write_bytes(b"i")
    (tmp_path / "manifest.json").write_text("{}")
    text = GOOD_PROFILE.replace(
        "  serial:\n    url: rfc2217://lab-host:4001\n    baudrate: 115200\n",
        "  qemu:\n    kernel: images/vmlinuz\n    initrd: images/initrd.cpio\n    append: console=ttyS0\n",
    ).replace(
        "  support_period_months: 36\n", "  support_period_months: 36\n  update_manifest: manifest.json\n"
    )
    profile = load_profile(write(tmp_path, text))
    assert profile.console.qemu.kernel == tmp_path / "images" / "vmlinuz"
    assert profile.console.qemu.kind == "kernel"
    assert profile.update_policy.update_manifest == tmp_path / "manifest.json"


def test_lab_config_defaults_need_no_file() -> None:
    lab = LabConfig()
    assert lab.qemu.accel == "auto" and lab.capture.method == "qemu-filter-dump"
    assert lab.image_cache.is_absolute()
    assert lab.servers.ports() == {}  # an emulated device is told its lab's ports at boot


def test_lab_config_with_serial_ports_capture_and_power(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
kind: lab-config
name: bench-2
image_cache: cache
serial_ports:
  modem: {url: /dev/ttyUSB0}
  debug: {url: "socket://127.0.0.1:7000", baudrate: 921600}
capture: {interface: eth1}
power: {on: "pdu 3 on", off: "pdu 3 off"}
servers: {syslog_udp_port: 5514, sip_udp_port: 5060}
""",
        "lab.yaml",
    )
    lab = load_any(path)
    assert isinstance(lab, LabConfig)
    assert lab.image_cache == tmp_path / "cache"
    assert lab.serial_ports["debug"].baudrate == 921600
    assert lab.capture.method == "interface" and lab.capture.interface == "eth1"
    assert (lab.power.on, lab.power.off, lab.power.cycle) == ("pdu 3 on", "pdu 3 off", None)
    assert lab.servers.ports() == {"syslog_udp_port": 5514, "sip_udp_port": 5060}


# --- one line per mistake ---------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    message = error_of(tmp_path / "absent.yaml")
    assert "file not found" in message


def test_unreadable_yaml_names_the_line(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "name: [oops\nvendor: x\n"))
    assert "invalid YAML at line" in message


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", ""])
def test_top_level_not_a_mapping(tmp_path: Path, text: str) -> None:
    message = error_of(write(tmp_path, text))
    assert "expected a YAML mapping" in message


CASES = {
    "wrong type": (
        ("observation_seconds: 15", "observation_seconds: soon"),
        "secure_communication.observation_seconds: wrong type",
    ),
    "unknown key": (
        ("  password:", "  pasword:"),
        "login.pasword: unknown key 'pasword' (did you mean 'password'?)",
    ),
    "unknown nested key": (("{name: ssh,", "{nme: ssh,"), "network.services[0].nme: unknown key"),
    "missing field": (("  username: admin\n", ""), "login.username: missing required field"),
    "bad enum": (
        ("protocol: tcp, port: 22", "protocol: sctp, port: 22"),
        "network.services[0].protocol: invalid value",
    ),
    "bad regex": (
        ('password: "s3cret-Pass"', 'password: "s3cret-Pass"\n  shell_prompt: "[#$"'),
        "login.shell_prompt: invalid regular expression",
    ),
    "bad date": (("launch_date: 2025-03-01", "launch_date: 2025-02-30"), "launch_date: invalid date"),
    "bad date text": (
        ("date: 2025-06-01", "date: June"),
        "update_policy.release_history[0].date: invalid date",
    ),
    "port out of range": (
        ("port: 22", "port: 70000"),
        "network.services[0].port: value 70000 is out of range",
    ),
    "port zero": (("port: 5684", "port: 0"), "network.services[1].port: value 0 is out of range"),
    "missing referenced file": (
        ("  support_period_months: 36\n", "  support_period_months: 36\n  update_manifest: nope.json\n"),
        "update_policy.update_manifest: file 'nope.json' does not exist",
    ),
    "both consoles": (
        ("console:\n", "console:\n  telnet: {host: h, port: 2001}\n"),
        "console: both serial and telnet",
    ),
    "no console": (
        ("  serial:\n    url: rfc2217://lab-host:4001\n    baudrate: 115200\n", "  {}\n"),
        "console: no console given",
    ),
    "bad serial url": (
        ("rfc2217://lab-host:4001", "rfc2218://lab-host:4001"),
        "console.serial.url: pyserial",
    ),
    "bad cve": (("CVE-2025-1234", "CVE-25-1"), "update_policy.release_history[0].cves"),
    "approval before receipt": (
        ("operator_approved: 2025-06-05", "operator_approved: 2025-05-05"),
        "update_policy.release_history[0].operator_approved: operator_approved 2025-05-05",
    ),
    "reason for unknown feature": (('    usb: "the module', '    ubs: "the module'), "features.reasons"),
    "duplicate key": (("vendor: Example\n", "vendor: Example\nvendor: Other\n"), "vendor: duplicate key"),
    "support before launch": (
        ("end_of_support_date: 2028-03-01", "end_of_support_date: 2024-03-01"),
        "end_of_support_date: end_of_support_date 2024-03-01 is before launch_date",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_mistake_is_one_line_naming_file_and_field(tmp_path: Path, case: str) -> None:
    (old, new), expected_start = CASES[case]
    assert old in GOOD_PROFILE, case
    path = write(tmp_path, GOOD_PROFILE.replace(old, new, 1))
    message = error_of(path)
    assert message.startswith(f"{path}: {expected_start}"), message
    assert "; expected " in message


def test_top_level_typo_and_null_section(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, GOOD_PROFILE.replace("vendor:", "vendr:")))
    assert ": vendr: unknown key 'vendr' (did you mean 'vendor'?)" in message
    message = error_of(
        write(tmp_path, GOOD_PROFILE.replace('  username: admin\n  password: "s3cret-Pass"\n', ""))
    )
    assert ": login: wrong type: got nothing (null)" in message


def test_error_gives_the_yaml_line(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, GOOD_PROFILE.replace("port: 22", "port: 70000")))
    line = next(n for n, text in enumerate(GOOD_PROFILE.splitlines(), 1) if "port: 22" in text)
    assert f"(line {line})" in message


def test_several_errors_are_counted(tmp_path: Path) -> None:
    text = GOOD_PROFILE.replace("port: 22", "port: 70000").replace("port: 5684", "port: 0")
    message = error_of(write(tmp_path, text))
    assert message.endswith("(and 1 more)"), message


def test_password_is_not_echoed_in_errors(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, GOOD_PROFILE.replace('password: "s3cret-Pass"', "password: 987654")))
    assert "login.password: wrong type" in message
    assert "987654" not in message


def test_lab_config_mistakes(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\nservers:\n  telemetry_dtls_port: 99999\n", "lab.yaml")
    assert "servers.telemetry_dtls_port: value 99999 is out of range" in error_of(path, load_lab_config)
    path = write(tmp_path, "name: x\nqemu:\n  accel: hvf\n", "lab.yaml")
    assert "qemu.accel: invalid value 'hvf'" in error_of(path, load_lab_config)
    path = write(tmp_path, "name: x\ncapture:\n  method: interface\n", "lab.yaml")
    assert "capture: capture method 'interface' without an interface name" in error_of(path, load_lab_config)
    path = write(
        tmp_path, "name: x\nservers:\n  syslog_udp_port: 5683\n  telemetry_plain_port: 5683\n", "lab.yaml"
    )
    assert "servers: syslog_udp_port and telemetry_plain_port are both UDP port 5683" in error_of(
        path, load_lab_config
    )


def test_load_any_needs_a_recognisable_kind(tmp_path: Path) -> None:
    assert "cannot tell" in error_of(write(tmp_path, "name: what\n"))
    assert "kind: invalid value" in error_of(write(tmp_path, "kind: profile\nname: x\n"))


def test_validate_files_reports_one_line_per_bad_file(tmp_path: Path) -> None:
    good = write(tmp_path, GOOD_PROFILE, "good.yaml")
    bad = write(tmp_path, GOOD_PROFILE.replace("port: 22", "port: 0"), "bad.yaml")
    problems = validate_files([good, bad, tmp_path / "gone.yaml"])
    assert len(problems) == 2
    assert problems[0].startswith(f"{bad}: network.services[0].port")
    assert problems[1].startswith(f"{tmp_path / 'gone.yaml'}: file not found")


# --- default credentials ---------------------------------------------------------------------


def test_default_credentials_list() -> None:
    pairs = load_default_credentials()
    assert len(pairs) >= 16
    assert ("root", "root") in pairs and ("admin", "admin") in pairs
    assert ("root", "") in pairs


def test_credentials_file_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "# comment\nroot:pa:ss\nadmin\n", "creds.txt")
    with pytest.raises(ConfigError) as info:
        load_default_credentials(path)
    assert str(info.value).startswith(f"{path}: line 3: no ':'")
    path = write(tmp_path, "root:pa:ss\n\nguest:\n", "creds.txt")
    assert load_default_credentials(path) == [("root", "pa:ss"), ("guest", "")]
    with pytest.raises(ConfigError, match="file not found"):
        load_default_credentials(tmp_path / "none.txt")

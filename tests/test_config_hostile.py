"""Config files are input like any other: each hostile one gets one error line and status 2.

Every case here gave a traceback, a hang, unbounded memory, a forged extra line or a silently
accepted wrong value before the YAML reader and the models were bounded.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.config import load_lab_config, load_profile

ROOT = Path(__file__).resolve().parent.parent

PROFILE_HEAD = "kind: device-profile\nname: x\nvendor: v\nmodel: m\nfirmware_version: '1'\n"
LAB_HEAD = "kind: lab-config\n"


def profile(extra: str = "", *, console: str = "{qemu: {reference_image: hardened}}", login: str = "") -> str:
    login = login or "{username: root, password: p}"
    return f"{PROFILE_HEAD}console: {console}\nlogin: {login}\n{extra}"


def laughs(levels: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return LAB_HEAD + "\n".join(lines) + "\n"


# name -> (file text, a word the one error line must contain)
HOSTILE: dict[str, tuple[str, str]] = {
    "kind as a list": ("kind: [a, b]\n", "kind"),
    "kind as a mapping": ("kind: {a: 1}\n", "kind"),
    "int tag on text": (profile(login="{username: !!int abc, password: p}"), "as int"),
    "float tag on text": (profile(login="{username: !!float abc, password: p}"), "as float"),
    "bool tag on text": (profile(login="{username: !!bool maybe, password: p}"), "as bool"),
    "timestamp tag on text": (profile(login="{username: !!timestamp nope, password: p}"), "as timestamp"),
    "impossible timestamp": (profile("launch_date: !!timestamp 2026-02-31\n"), "timestamp"),
    "5000-digit integer": (LAB_HEAD + "qemu: {memory_mb: " + "9" * 5000 + "}\n", "digits"),
    "deeply nested lists": (LAB_HEAD + "servers: " + "[" * 5000 + "]" * 5000 + "\n", "nested"),
    "deeply nested mappings": (LAB_HEAD + "servers: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n", "nested"),
    "aliases nested deeply": (
        LAB_HEAD
        + "".join(f"a{i}: &a{i} [[[[[[[[[[*a{i - 1}]]]]]]]]]]\n" for i in range(1, 12)).replace("*a0", "x"),
        "levels deep",
    ),
    "billion laughs": (laughs(), "aliases expand"),
    "unknown user's home": (
        profile(console="{qemu: {kernel: ~nosuchuser/k, initrd: ~nosuchuser/i}}"),
        "no such user",
    ),
    "unknown user's home in a lab": (LAB_HEAD + "image_cache: ~nosuchuser/cache\n", "no such user"),
    "symlink loop as a firmware image": (profile("firmware_image: {loop}\n"), "symlink loop"),
    "symlink loop as a kernel": (
        profile(console="{qemu: {kernel: {loop}, initrd: {loop}}}"),
        "symlink loop",
    ),
    "symlink loop under a folder": (LAB_HEAD + "image_cache: {loop}/cache\n", "symlink loop"),
    "FIFO as a manifest": (profile("update_policy: {update_manifest: {fifo}}\n"), "not a regular file"),
    "device as a manifest": (profile("update_policy: {update_manifest: /dev/zero}\n"), "not a regular file"),
    "port true": (LAB_HEAD + "servers: {syslog_udp_port: true}\n", "boolean"),
    "port as a float": (LAB_HEAD + "servers: {syslog_tcp_port: 514.0}\n", "number"),
    "service port true": (
        profile("network: {services: [{name: a, protocol: tcp, port: true}]}\n"),
        "boolean",
    ),
    "count true": (LAB_HEAD + "qemu: {memory_mb: true}\n", "boolean"),
    "baud rate true": (profile(console="{serial: {url: /dev/ttyS0, baudrate: true}}"), "boolean"),
    "infinite timeout": (LAB_HEAD + "timeouts: {command_s: .inf}\n", "finite"),
    "negative infinite timeout": (LAB_HEAD + "timeouts: {login_s: -.inf}\n", "finite"),
    "NaN timeout": (LAB_HEAD + "timeouts: {command_s: .nan}\n", "finite"),
    "1e300 timeout": (LAB_HEAD + "timeouts: {command_s: 1e300}\n", "more than a day"),
    "1e300 boot timeout": (LAB_HEAD + "qemu: {boot_timeout_s: 1.0e+300}\n", "more than a day"),
    "infinite observation": (profile("secure_communication: {observation_seconds: .inf}\n"), "finite"),
    "infinite lockout": (profile(login="{username: root, password: p, lockout_seconds: .inf}"), "finite"),
    "true as a timeout": (LAB_HEAD + "timeouts: {command_s: true}\n", "boolean"),
    "huge power timeout": (
        LAB_HEAD + "power: {on: 'true', off: 'true', timeout_s: 1e300}\n",
        "power.timeout_s",
    ),
    "file over a megabyte": (LAB_HEAD + "name: " + "a" * 1_100_000 + "\n", "larger than"),
    "python object tag": (LAB_HEAD + "x: !!python/object:os.system ls\n", "constructor"),
    "lone surrogate": (LAB_HEAD + 'name: "\\ud800"\n', "name"),
}


@pytest.fixture
def hostile_dir(tmp_path: Path) -> Path:
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    os.mkfifo(tmp_path / "fifo")
    return tmp_path


def _write(folder: Path, name: str, text: str) -> Path:
    text = text.replace("{loop}", str(folder / "loop1")).replace("{fifo}", str(folder / "fifo"))
    path = folder / (name.replace(" ", "-").replace("'", "") + ".yaml")
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_config_is_one_line_and_status_2(
    name: str, hostile_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, word = HOSTILE[name]
    path = _write(hostile_dir, name, text)
    assert main(["validate", str(path)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"{path}: ")
    assert word.lower() in lines[0].lower(), lines[0]
    assert "Traceback" not in captured.err and not captured.out


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "loop1"])
def test_special_files_as_configs_are_refused_without_reading(
    special: str, hostile_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = special if special.startswith("/") else str(hostile_dir / special)
    assert main(["validate", path]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"{path}: ") and ("not a regular file" in line or "symbolic links" in line)


def test_key_with_newlines_cannot_forge_error_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "forge.yaml"
    path.write_text(LAB_HEAD + '"servers\\nlab.yaml: ok\\r\\x1b[2K": 1\n', encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "\r" not in err
    assert "servers\\nlab.yaml: ok\\r\\x1b[2K" in err


def test_ports_counts_and_durations_keep_accepting_good_values(tmp_path: Path) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text(
        LAB_HEAD + "qemu: {memory_mb: 512, boot_timeout_s: 120}\n"
        "servers: {syslog_udp_port: 514, syslog_tcp_port: 6514}\n"
        "timeouts: {command_s: 2.5, login_s: 1e2}\n",
        encoding="utf-8",
    )
    config = load_lab_config(lab)
    assert config.servers.syslog_udp_port == 514 and config.timeouts.login_s == 100.0
    assert config.timeouts.command_s == 2.5 and config.qemu.boot_timeout_s == 120.0
    device = tmp_path / "device.yaml"
    device.write_text(profile("secure_communication: {observation_seconds: 30}\n"), encoding="utf-8")
    assert load_profile(device).secure_communication.observation_seconds == 30.0


def _limit_memory() -> None:
    limit = 1024 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_billion_laughs_fifo_and_dev_zero_stay_small(tmp_path: Path) -> None:
    """In one `hilsec validate` under a 1 GiB address-space limit: three lines, no MemoryError."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(laughs(), encoding="utf-8")
    os.mkfifo(tmp_path / "fifo.yaml")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "validate",
            str(bomb),
            str(tmp_path / "fifo.yaml"),
            "/dev/zero",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_memory,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.splitlines()
    assert len(lines) == 3 and "Traceback" not in done.stderr and "MemoryError" not in done.stderr


@pytest.mark.parametrize("text", ["inf", "nan", "-5", "0", "1e300", "soon"])
def test_the_test_timeout_option_is_finite(text: str) -> None:
    import argparse

    from harness.plugin import _test_timeout

    with pytest.raises(argparse.ArgumentTypeError):
        _test_timeout(text)
    assert _test_timeout("900") == 900.0


def test_digit_strings_with_a_leading_zero_stay_strings(tmp_path) -> None:
    """PyYAML writes an IMSI like 001010123456789 unquoted; read back it must not become a float."""
    import yaml as pyyaml

    from harness.config.yamlfile import read_yaml

    path = tmp_path / "p.yaml"
    path.write_text(pyyaml.safe_dump({"imsi": "001010123456789", "big": "1e300"}))
    data = read_yaml(path).data
    assert data["imsi"] == "001010123456789"

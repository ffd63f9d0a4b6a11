"""harness.checks.network_interfaces: the listing parser (sysfs, iproute2, busybox, hostile text) and the verdict."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from harness.checks.network_interfaces import DeclaredInterface, judge_network_interfaces
from harness.observations.network_interfaces import (
    BEGIN,
    END,
    MAX_INTERFACES,
    MAX_LISTING_CHARS,
    interface_listing_command,
    parse_interface_listing,
)
from harness.results.verdicts import Verdict

ETH0_UP = [DeclaredInterface("eth0", "ethernet", "up")]


def listing(*lines: str) -> str:
    return "\n".join([BEGIN, *lines, END]) + "\n"


SYSFS_HARDENED = listing(
    "sysfs eth0 0x1003 up 1",
    "sysfs lo 0x9 unknown 772",
    "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever",
    "2: eth0    inet 10.0.2.15/24 brd 10.0.2.255 scope global eth0\\       valid_lft forever",
)
# iproute2 (full Linux) `ip -o link`, as printed where /sys/class/net is missing
IPROUTE2 = listing(
    "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000"
    "\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00",
    "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP mode DEFAULT group default"
    "\\    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff",
    "3: wlan0: <BROADCAST,MULTICAST,UP> mtu 1500 qdisc noop state DOWN mode DORMANT group default"
    "\\    link/ether 52:54:00:12:34:57 brd ff:ff:ff:ff:ff:ff",
    "4: eth0.10@eth0: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT group default"
    "\\    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff",
    "3: wlan0    inet 192.168.4.1/24 brd 192.168.4.255 scope global wlan0\\       valid_lft forever",
)
# busybox 1.35 `ip -o link` prints no "state"
BUSYBOX = listing(
    "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue qlen 1000\\    link/loopback 00:00:00:00:00:00",
    "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1400 qdisc pfifo_fast qlen 1000\\    link/ether 02:fc:00:00:00:01",
    "3: usb0: <BROADCAST,NOARP> mtu 1500 qdisc noop qlen 32\\    link/ether 56:74:f6:a0:d3:35",
)


def judge(text: str, declared=ETH0_UP, allowed: bool = False):
    return judge_network_interfaces(declared, parse_interface_listing(text), undeclared_allowed=allowed)


# --- the parser ---------------------------------------------------------------------------------


def test_sysfs_lines_give_admin_state_operstate_loopback_and_addresses() -> None:
    parsed = parse_interface_listing(SYSFS_HARDENED)
    assert parsed.source == "sysfs" and parsed.complete
    eth0, lo = parsed.interfaces["eth0"], parsed.interfaces["lo"]
    assert (eth0.up, eth0.operstate, eth0.loopback, eth0.addresses) == (True, "up", False, ("10.0.2.15/24",))
    assert lo.loopback


def test_iproute2_lines_give_flags_state_and_vlan_names() -> None:
    parsed = parse_interface_listing(IPROUTE2)
    assert parsed.source == "ip -o link" and parsed.complete
    assert sorted(parsed.interfaces) == ["eth0", "eth0.10", "lo", "wlan0"]
    wlan0 = parsed.interfaces["wlan0"]
    assert (wlan0.up, wlan0.operstate, wlan0.addresses) == (True, "down", ("192.168.4.1/24",))
    assert not parsed.interfaces["eth0.10"].up and parsed.interfaces["lo"].loopback


def test_busybox_lines_without_state_still_give_flags() -> None:
    parsed = parse_interface_listing(BUSYBOX)
    assert parsed.interfaces["eth0"].up and parsed.interfaces["eth0"].operstate == ""
    assert not parsed.interfaces["usb0"].up


def test_sysfs_wins_over_ip_link_when_both_are_printed() -> None:
    parsed = parse_interface_listing(listing("sysfs eth0 0x1002 down 1", "2: eth0: <UP,LOWER_UP> mtu 1500"))
    assert parsed.source == "sysfs" and not parsed.interfaces["eth0"].up


def test_the_command_echo_is_not_a_marker() -> None:
    """A console that echoes the command must not start the listing early."""
    command = interface_listing_command()
    assert BEGIN not in command and END not in command


@pytest.mark.skipif(shutil.which("busybox") is None, reason="needs the busybox binary (Makefile installs it)")
def test_the_command_runs_in_busybox_ash_and_parses() -> None:
    done = subprocess.run(
        ["busybox", "sh", "-c", interface_listing_command()],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    parsed = parse_interface_listing(done.stdout)
    assert parsed.complete and parsed.source == "sysfs", done.stdout
    assert any(i.loopback for i in parsed.interfaces.values()), done.stdout


def test_no_listing_or_a_cut_one_is_incomplete() -> None:
    assert parse_interface_listing("sh: syntax error\n").problems
    cut = parse_interface_listing(f"{BEGIN}\nsysfs eth0 0x1003 up 1\n")
    assert not cut.complete and "end marker" in cut.problems[0]


def test_huge_output_is_bounded_and_inconclusive() -> None:
    flood = BEGIN + "\n" + ("A" * 5000 + "\n") * 200 + END + "\n"
    parsed = parse_interface_listing(flood)
    assert not parsed.complete and any(str(MAX_LISTING_CHARS) in p for p in parsed.problems)
    assert judge(flood).verdict is Verdict.INCONCLUSIVE


def test_too_many_interfaces_are_cut_and_inconclusive() -> None:
    many = listing(*(f"sysfs d{i} 0x1002 down 1" for i in range(MAX_INTERFACES + 10)))
    parsed = parse_interface_listing(many)
    assert len(parsed.interfaces) == MAX_INTERFACES and not parsed.complete


def test_escape_sequences_never_reach_a_name_or_a_reason() -> None:
    hostile = listing(
        "sysfs eth0 0x1003 up 1",
        "sysfs \x1b]0;pwned\x07evil 0x1003 up 1",
        "2: \x1b[2Jfake: <UP> mtu 1500",
        "sysfs wlan0\x1b[8m 0x1003 up 1",
    )
    parsed = parse_interface_listing(hostile)
    assert set(parsed.interfaces) == {"eth0"}
    outcome = judge(hostile)
    assert outcome.verdict is Verdict.INCONCLUSIVE  # an interface line it cannot read may hide one that is up
    assert "\x1b" not in outcome.reason and "\\x1b" in outcome.reason


def test_overlong_names_are_not_interfaces() -> None:
    parsed = parse_interface_listing(listing("sysfs " + "x" * 16 + " 0x1003 up 1"))
    assert not parsed.interfaces and parsed.problems


# --- the verdict ----------------------------------------------------------------------------------


def test_declared_interfaces_in_their_state_pass() -> None:
    outcome = judge(SYSFS_HARDENED)
    assert outcome.verdict is Verdict.PASS, outcome.reason
    assert "eth0 up" in outcome.reason and "lo" not in outcome.reason.split("(")[1].split(";")[0]


def test_an_undeclared_interface_up_fails_naming_it_and_its_address() -> None:
    text = listing(
        "sysfs eth0 0x1003 up 1",
        "sysfs maint0 0x83 unknown 1",
        "3: maint0    inet 192.168.250.1/24 scope global maint0",
    )
    outcome = judge(text)
    assert outcome.verdict is Verdict.FAIL
    assert outcome.findings == (
        "maint0 is up (operstate unknown; address 192.168.250.1/24) but the profile does not declare it "
        "(network.interfaces)",
    )


def test_undeclared_up_fails_even_where_undeclared_interfaces_are_allowed() -> None:
    outcome = judge(listing("sysfs eth0 0x1003 up 1", "sysfs usb0 0x1003 up 1"), allowed=True)
    assert outcome.verdict is Verdict.FAIL


def test_an_interface_declared_down_or_absent_that_is_up_fails() -> None:
    declared = [
        *ETH0_UP,
        DeclaredInterface("wlan0", "wifi", "down"),
        DeclaredInterface("eth0.10", "vlan", "absent"),
    ]
    text = listing("sysfs eth0 0x1003 up 1", "sysfs wlan0 0x1003 dormant 1", "sysfs eth0.10 0x1003 up 1")
    outcome = judge(text, declared)
    assert outcome.verdict is Verdict.FAIL
    assert [f.split(" but ")[1] for f in outcome.findings] == [
        "the profile declares wlan0 (wifi) down",
        "the profile declares eth0.10 (vlan) absent",
    ]


def test_admin_up_without_carrier_is_on() -> None:
    """IFF_UP without a carrier (operstate down) is still an enabled interface."""
    outcome = judge(
        listing("sysfs eth0 0x1003 up 1", "sysfs wlan0 0x1003 down 1"),
        [*ETH0_UP, DeclaredInterface("wlan0", "wifi", "absent")],
    )
    assert outcome.verdict is Verdict.FAIL and "wlan0 is up (operstate down)" in outcome.findings[0]


def test_an_interface_declared_up_that_is_down_or_missing_is_inconclusive() -> None:
    declared = [*ETH0_UP, DeclaredInterface("wwan0", "cellular", "up")]
    down = judge(listing("sysfs eth0 0x1002 down 1", "sysfs wwan0 0x1003 up 1"), declared)
    assert down.verdict is Verdict.INCONCLUSIVE and "eth0 is down" in down.reason
    missing = judge(listing("sysfs eth0 0x1003 up 1"), declared)
    assert missing.verdict is Verdict.INCONCLUSIVE and "wwan0 is not on the device" in missing.reason


def test_down_and_absent_both_mean_off() -> None:
    declared = [
        *ETH0_UP,
        DeclaredInterface("wlan0", "wifi", "absent"),
        DeclaredInterface("bt0", "bluetooth", "down"),
    ]
    outcome = judge(listing("sysfs eth0 0x1003 up 1", "sysfs wlan0 0x1002 down 1"), declared)
    assert outcome.verdict is Verdict.PASS, outcome.reason
    assert len(outcome.details["notes"]) == 2


def test_an_undeclared_interface_that_is_off_depends_on_the_declaration() -> None:
    text = listing("sysfs eth0 0x1003 up 1", "sysfs dummy0 0x82 down 1")
    assert judge(text).verdict is Verdict.INCONCLUSIVE
    assert "undeclared_interfaces_allowed" in judge(text).reason
    assert judge(text, allowed=True).verdict is Verdict.PASS


def test_a_fail_keeps_the_unconfirmed_declarations_as_missing() -> None:
    outcome = judge(listing("sysfs eth0 0x1002 down 1", "sysfs maint0 0x1003 up 1"))
    assert outcome.verdict is Verdict.FAIL and outcome.missing


def test_no_declaration_is_inconclusive_naming_the_profile_field() -> None:
    outcome = judge_network_interfaces(None, parse_interface_listing(SYSFS_HARDENED))
    assert outcome.verdict is Verdict.INCONCLUSIVE and "network.interfaces" in outcome.reason


def test_no_listing_is_inconclusive() -> None:
    outcome = judge("login: ")
    assert outcome.verdict is Verdict.INCONCLUSIVE and "no interface listing" in outcome.reason


def test_a_device_with_only_loopback_and_nothing_declared_passes() -> None:
    assert judge(listing("sysfs lo 0x9 unknown 772"), []).verdict is Verdict.PASS

"""harness.checks.default_credentials both ways: an accepted default FAILs naming it, refusals PASS,
an unenumerated network is INCONCLUSIVE."""

from __future__ import annotations

from harness.checks.default_credentials import (
    default_entry,
    judge_console_logins,
    judge_lab_credential,
    judge_network_logins,
    judge_open_doors,
)
from harness.results.verdicts import Verdict

DEFAULTS = [("root", "root"), ("admin", "admin"), ("root", "12345")]


def test_a_default_lab_credential_fails_naming_its_entry():
    outcome = judge_lab_credential("admin", "admin", DEFAULTS)
    assert outcome.verdict is Verdict.FAIL
    assert outcome.reason == (
        "the device's credential for admin is a well-known default: admin:admin (entry 2 of the shipped default list)"
    )
    assert judge_lab_credential("root", "s3cret-lab", DEFAULTS).verdict is Verdict.PASS


def test_console_accepting_a_default_fails_and_refusing_all_passes():
    entry = default_entry(DEFAULTS, ("root", "12345"))
    failed = judge_console_logins([entry], len(DEFAULTS))
    assert failed.verdict is Verdict.FAIL and failed.findings == (entry,)
    assert (
        failed.reason
        == "console accepted well-known default credential(s): root:12345 (entry 3 of the shipped default list)"
    )
    assert judge_console_logins([], len(DEFAULTS)).verdict is Verdict.PASS


def test_network_logins_fail_first_then_need_the_inventory():
    found = ["telnet on port 23 accepted well-known default credential(s): root:root (entry 1 ...)"]
    failed = judge_network_logins(
        "telnet", found, [23], inventory_available=False, inventory_problem="no root"
    )
    assert failed.verdict is Verdict.FAIL and failed.reason == found[0]
    unknown = judge_network_logins("ssh", [], [22], inventory_available=False, inventory_problem="no root")
    assert unknown.verdict is Verdict.INCONCLUSIVE and "(no root)" in unknown.reason
    assert judge_network_logins("ssh", [], [22], inventory_available=True).verdict is Verdict.PASS


def test_a_shell_without_credentials_fails():
    outcome = judge_open_doors(["tcp/2222 shell: '# '"])
    assert outcome.verdict is Verdict.FAIL and outcome.reason.startswith(
        "network services that ask for no credential: "
    )
    assert judge_open_doors([]).verdict is Verdict.PASS

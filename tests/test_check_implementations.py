"""The declared-implementations check (EN 303 645 5.5-2, TS 103 701 5.5-2-1a/b, 5.5-2-2a), both
directions: what answers on the network against the profile's `implementations`, and each
declared implementation's review record."""

from __future__ import annotations

from harness.checks.implementations import (
    DeclaredImplementation,
    ObservedService,
    judge_declared_implementations,
    judge_implementation_reviews,
    split_product,
)
from harness.results.outcome import Verdict

LAB = {"reviewed": True, "reviewed_by": "a lab"}
DROPBEAR = DeclaredImplementation(
    "dropbear",
    "2022.83",
    "SSH server",
    ("ssh",),
    review_scope="SSH server: key exchange",
    review_reference="report 7",
    **LAB,
)
TELNETD = DeclaredImplementation("busybox telnetd", "1.35.0", "telnet server", ("telnet",))
OPENSSL = DeclaredImplementation(
    "OpenSSL", "3.0", "DTLS telemetry client", review_scope="DTLS  Telemetry client", **LAB
)
SSH = ObservedService(22, "ssh", "banner 'SSH-2.0-dropbear_2022.83'", "dropbear_2022.83")
TELNET = ObservedService(23, "telnet", "telnet option negotiation '\\xff\\xfd\\x01'")
SHELL = ObservedService(5555, "shell", "answered 'echo HILSEC$((6*7))' with HILSEC42")


def test_product_tokens_split_into_name_and_version() -> None:
    assert split_product("dropbear_2022.83") == ("dropbear", "2022.83")
    assert split_product("OpenSSH_9.2p1") == ("OpenSSH", "9.2p1")
    assert split_product("lighttpd/1.4.69 (Debian)") == ("lighttpd", "1.4.69")
    assert split_product("SimpleHTTP/0.6 Python/3.11.2") == ("SimpleHTTP", "0.6")
    assert split_product("nginx") == ("nginx", "")


def test_the_declared_version_answering_passes_and_lists_what_was_not_verified() -> None:
    result = judge_declared_implementations([DROPBEAR, OPENSSL], [SSH])
    assert result.verdict == Verdict.PASS
    assert "tcp/22 dropbear 2022.83" in result.reason
    assert "not verified" in result.reason and "OpenSSL 3.0" in result.reason


def test_another_version_than_declared_fails_naming_port_answer_and_declaration() -> None:
    stale = DeclaredImplementation("dropbear", "2020.81", "SSH server", ("ssh",))
    result = judge_declared_implementations([stale], [SSH])
    assert result.verdict == Verdict.FAIL
    assert (
        "tcp/22 answers as dropbear 2022.83" in result.reason and "declared version 2020.81" in result.reason
    )


def test_an_undeclared_named_implementation_fails() -> None:
    openssh = ObservedService(2222, "ssh", "banner 'SSH-2.0-OpenSSH_9.2p1'", "OpenSSH_9.2p1")
    result = judge_declared_implementations([DROPBEAR], [SSH, openssh])
    assert result.verdict == Verdict.FAIL
    assert (
        result.findings == (result.findings[0],) and "tcp/2222 answers as OpenSSH 9.2p1" in result.findings[0]
    )
    assert "does not declare" in result.reason and "dropbear 2022.83 (SSH server)" in result.reason


def test_names_compare_without_case() -> None:
    upper = ObservedService(22, "ssh", "banner", "Dropbear_2022.83")
    assert judge_declared_implementations([DROPBEAR], [upper]).verdict == Verdict.PASS


def test_a_service_naming_no_software_must_be_covered_by_a_declared_kind() -> None:
    result = judge_declared_implementations([DROPBEAR], [SSH, TELNET, SHELL])
    assert result.verdict == Verdict.FAIL
    assert len(result.findings) == 2
    assert "tcp/23 answers as telnet" in result.reason and "tcp/5555 answers as shell" in result.reason

    covered = judge_declared_implementations([DROPBEAR, TELNETD], [SSH, TELNET])
    assert covered.verdict == Verdict.PASS
    assert any("tcp/23 telnet is declared as busybox telnetd" in n for n in covered.details["notes"])


def test_nothing_compared_is_inconclusive_never_pass() -> None:
    result = judge_declared_implementations([DROPBEAR, TELNETD], [TELNET])
    assert result.verdict == Verdict.INCONCLUSIVE
    assert "nothing could be compared" in result.reason and "dropbear" in result.reason
    nameless = ObservedService(22, "ssh", "banner 'SSH-2.0-dropbear'", "dropbear")
    assert judge_declared_implementations([DROPBEAR], [nameless]).verdict == Verdict.INCONCLUSIVE
    assert judge_declared_implementations([DROPBEAR], []).verdict == Verdict.INCONCLUSIVE


def test_unrecognised_answers_are_noted_not_judged() -> None:
    odd = ObservedService(9000, "unknown", "banner nothing")
    result = judge_declared_implementations([DROPBEAR], [SSH, odd])
    assert result.verdict == Verdict.PASS and any("tcp/9000" in n for n in result.details["notes"])


def test_no_declaration_is_inconclusive_naming_the_field_and_an_empty_one_fails_what_answers() -> None:
    absent = judge_declared_implementations(None, [SSH])
    assert absent.verdict == Verdict.INCONCLUSIVE and "implementations" in absent.reason
    assert judge_declared_implementations([], [SSH]).verdict == Verdict.FAIL


def test_reviews_pass_when_each_scope_names_the_purpose() -> None:
    result = judge_implementation_reviews([DROPBEAR, OPENSSL])
    assert (
        result.verdict == Verdict.PASS
        and "dropbear 2022.83 (SSH server) by a lab (report 7)" in result.reason
    )


def test_a_missing_review_or_a_scope_without_the_purpose_fails() -> None:
    unreviewed = DeclaredImplementation("dropbear", "2022.83", "SSH server")
    empty = DeclaredImplementation("OpenSSL", "3.0", "TLS library", reviewed_by="a lab", reviewed=True)
    elsewhere = DeclaredImplementation("lwIP", "2.1", "TCP/IP stack", review_scope="the DHCP client", **LAB)
    result = judge_implementation_reviews([unreviewed, empty, elsewhere, OPENSSL])
    assert result.verdict == Verdict.FAIL and len(result.findings) == 3
    assert "no review or evaluation record" in result.findings[0]
    assert "states no scope" in result.findings[1]
    assert "does not name its purpose 'TCP/IP stack'" in result.findings[2]


def test_reviews_without_a_declaration_are_inconclusive_naming_the_field() -> None:
    for declared in (None, []):
        result = judge_implementation_reviews(declared)
        assert result.verdict == Verdict.INCONCLUSIVE and "implementations" in result.reason

"""Reports survive whatever text a device sent, and never show or follow what they must not.

Before: a lone surrogate in a reason left a 0-byte results.json and no report (and re-rendering
replaced a good report.html with a 0-byte one); OSC 52 and title sequences reached report.html,
requirements.csv and the terminal raw; a symlink in evidence/ was inlined; evidence paths in
results.json (`../..`, absolute) were trusted by `hilsec report`; redaction missed a password with
colour codes between its characters, `Evidence.copy` never redacted, and the lab's own SIP
password was not redacted at all.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.lab.services.registry import lab_secrets
from harness.lab.services.sip_registrar import REFERENCE_SIP_PASSWORD
from harness.report import load_results, rerender, verify_sha256sums, write_report
from harness.report.terminal import format_summary
from harness.results.evidence import Evidence
from harness.results.model import RunResult, TestResult, requirement_results
from harness.results.redact import MASK, MASK_BYTES, StreamRedactor, redact_text
from harness.results.verdicts import Verdict

OSC52 = "\x1b]52;c;cm0gLXJmIH4K\x07"  # writes "rm -rf ~" to the clipboard of a terminal that obeys
TITLE = "\x1b]0;pwned\x07"
SURROGATE = "\ud800"
HOSTILE_REASON = f"device said {OSC52}{TITLE} and {SURROGATE} then \x9b31m\u202egnp.exe"
RAW_CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e")


def _run(reason: str = HOSTILE_REASON, evidence: list[str] | None = None) -> RunResult:
    tests = [
        TestResult(
            nodeid="testsuites/test_x.py::test_hostile",
            requirements=["FS38-05"],
            crossrefs=[],
            verdict=Verdict.FAIL,
            reason=reason,
            evidence=evidence or [],
            duration_s=1.0,
        )
    ]
    return RunResult(
        device={"name": f"dev{TITLE}", "firmware_version": "1"},
        started="2026-01-01T10:00:00+00:00",
        finished="2026-01-01T10:00:05+00:00",
        harness_version="0",
        tests=tests,
        requirements=requirement_results([_Req()], tests),
    )


class _Req:
    id = "FS38-05"
    title = "Attack surface"
    source = "FS.38"
    crossrefs = ()


def test_a_lone_surrogate_still_gives_every_report_and_round_trips(tmp_path: Path) -> None:
    paths = write_report(_run(), tmp_path)
    assert all(p.stat().st_size > 0 for p in paths if p.name != "SHA256SUMS")  # evidence/ may be empty
    assert load_results(tmp_path).tests[0].reason == HOSTILE_REASON  # results.json keeps the record
    assert "\\ud800" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_rerendering_never_replaces_a_good_report_with_an_empty_one(tmp_path: Path, monkeypatch) -> None:
    run_dir, unsealed = tmp_path / "run", tmp_path / "unsealed"
    write_report(_run(), run_dir)
    good = (run_dir / "report.html").read_bytes()
    assert rerender(run_dir, ("html",), out=tmp_path / "new")  # a sealed run renders only elsewhere
    assert (tmp_path / "new" / "report.html").stat().st_size > 0
    unsealed.mkdir()  # an unsealed directory (a report from before manifests) renders in place
    for name in ("results.json", "report.html"):
        (unsealed / name).write_bytes((run_dir / name).read_bytes())

    import harness.report.html as html

    def broken(*args, **kwargs):
        raise UnicodeEncodeError("utf-8", "x", 0, 1, "a writer failing half-way")

    monkeypatch.setattr(html, "render_html", broken)
    with pytest.raises(UnicodeEncodeError):
        rerender(unsealed, ("html",))
    assert (unsealed / "report.html").read_bytes() == good
    assert not list(unsealed.glob(".report.html.*"))  # no temporary file left behind


def test_terminal_sequences_are_shown_escaped_everywhere(tmp_path: Path) -> None:
    write_report(_run(), tmp_path)
    for name in ("report.html", "requirements.csv", "junit.xml"):
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert not any(c in text for c in RAW_CONTROLS), name
        assert "\\x1b]52;c;cm0gLXJmIH4K\\x07" in text, name
    raw_json = (tmp_path / "results.json").read_text(encoding="utf-8")
    assert not any(c in raw_json for c in RAW_CONTROLS)  # JSON escapes them; the record is exact
    summary = format_summary(_run(reason=HOSTILE_REASON + "\nforged line"))
    assert not any(c in summary for c in RAW_CONTROLS)
    assert summary.count("\n") == 2  # device, one row, totals: the newline cannot forge a row


def test_a_symlink_in_evidence_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    secret.write_text("TOP-SECRET-HOST-FILE\n")
    (tmp_path / "evidence" / "t").mkdir(parents=True)
    (tmp_path / "evidence" / "t" / "console.log").symlink_to(secret)
    (tmp_path / "evidence" / "linked").symlink_to(secret.parent)
    run = _run(evidence=["evidence/t/console.log", f"evidence/linked/{secret.name}"])
    write_report(run, tmp_path)
    for name in ("report.html", "junit.xml", "requirements.csv"):
        assert "TOP-SECRET-HOST-FILE" not in (tmp_path / name).read_text(encoding="utf-8")
    assert "evidence/t/console.log" not in (tmp_path / "evidence" / "SHA256SUMS").read_text()


@pytest.mark.parametrize(
    "path", ["../../etc/passwd", "/etc/passwd", "evidence/../../etc/passwd", "notes.txt"]
)
def test_evidence_paths_outside_evidence_are_refused_by_hilsec_report(
    tmp_path: Path, path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_report(_run(reason="ok"), tmp_path)
    document = json.loads((tmp_path / "results.json").read_text())
    document["tests"][0]["evidence"] = [path]
    (tmp_path / "results.json").write_text(json.dumps(document))
    assert main(["report", str(tmp_path), "--format", "html"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "tests[0].evidence[0]" in line and "Traceback" not in line


def test_verify_names_a_listed_file_swapped_for_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "evidence" / "t").mkdir(parents=True)
    log = tmp_path / "evidence" / "t" / "console.log"
    log.write_text("hello\n")
    write_report(_run(reason="ok", evidence=["evidence/t/console.log"]), tmp_path)
    target = tmp_path.parent / f"{tmp_path.name}-same.txt"
    target.write_text("hello\n")
    log.unlink()
    log.symlink_to(target)
    assert [p.problem for p in verify_sha256sums(tmp_path)] == ["a symlink, not evidence"]


# --- redaction ----------------------------------------------------------------------------------

PASSWORD = "Hs7-quartz-Velvet-9041"
COLOURED = "".join(f"\x1b[3{i % 8}m{c}" for i, c in enumerate(PASSWORD)) + "\x1b[0m"


def test_a_password_with_colour_codes_between_its_characters_is_redacted() -> None:
    assert PASSWORD not in COLOURED
    text = f"echo: {COLOURED} done"
    assert redact_text(text, [PASSWORD]) == f"echo: \x1b[30m{MASK}\x1b[0m done"
    spaced = "\x07".join(PASSWORD)
    assert redact_text(spaced, [PASSWORD]) == MASK


def test_the_stream_redactor_catches_a_coloured_password_split_anywhere() -> None:
    data = f"# echo {COLOURED}\r\nnext\r\n".encode()
    for cut in range(len(data) + 1):
        out: list[bytes] = []
        redactor = StreamRedactor([PASSWORD], out.append)
        redactor.write(data[:cut])
        redactor.write(data[cut:])
        redactor.flush()
        written = b"".join(out)
        assert MASK_BYTES in written and b"Velvet" not in written and b"9041" not in written, cut
        assert written.endswith(b"next\r\n"), cut


def test_evidence_copy_redacts_text_and_keeps_binary_lengths(tmp_path: Path) -> None:
    evidence = Evidence(tmp_path, "testsuites/test_x.py::test_copy", secrets=[PASSWORD])
    source = tmp_path / "capture.pcap"
    body = b"\xd4\xc3\xb2\xa1" + b"\x00" * 20 + b"PASS " + PASSWORD.encode() + b"\r\n" + bytes(range(256))
    source.write_bytes(body * 3000)  # several copy chunks, so a secret straddles a chunk edge
    copied = evidence.copy(source)
    data = copied.read_bytes()
    assert PASSWORD.encode() not in data and len(data) == len(body) * 3000
    assert data.count(b"*" * len(PASSWORD)) == 3000


def test_the_lab_sip_password_is_a_secret_everywhere() -> None:
    from harness.plugin import HilsecState

    assert REFERENCE_SIP_PASSWORD in lab_secrets()
    assert REFERENCE_SIP_PASSWORD in HilsecState(None, None, None).secrets()
    cmdline = f"Kernel command line: console=ttyS0 hilsec.sip_password={REFERENCE_SIP_PASSWORD}"
    assert REFERENCE_SIP_PASSWORD not in redact_text(cmdline, HilsecState(None, None, None).secrets())

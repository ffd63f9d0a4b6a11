"""Evidence that proves itself: the report directory's manifest covers every file, is signed with the
lab's Ed25519 key, and `hilsec report verify` catches a tampered file of each kind; a results.json
whose requirement verdicts do not follow from its tests is rejected by verify and by diff."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.cli import main
from harness.errors import ConfigError
from harness.report import rerender, write_report
from harness.report.diff import diff_runs
from harness.report.manifest import verify_report
from harness.report.signing import load_public_key, load_signing_key
from harness.requirements import load_catalog
from harness.results.model import RunResult, TestResult, requirement_results
from harness.results.verdicts import Verdict


def _key_file(path: Path) -> Path:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(pem)
    return path


def _public_file(key_path: Path, path: Path) -> Path:
    key = load_signing_key(key_path)
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def _run(report_dir: Path) -> RunResult:
    (report_dir / "evidence/login").mkdir(parents=True)
    (report_dir / "evidence/login/console.log").write_text("login: root\nPassword:\n# \n")
    (report_dir / "evidence/tls").mkdir()
    (report_dir / "evidence/tls/capture.pcap").write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(64))
    tests = [
        TestResult(
            "testsuites/test_default_credentials.py::test_console",
            ["FS38-01"],
            [],
            Verdict.FAIL,
            "accepted root/root",
            ["evidence/login/console.log"],
            1.0,
        ),
        TestResult(
            "testsuites/test_secure_communication.py::test_tls",
            ["FS38-04"],
            [],
            Verdict.PASS,
            "",
            ["evidence/tls/capture.pcap"],
            2.0,
        ),
    ]
    return RunResult(
        {"name": "board"}, "2026-01-01T10:00:00+00:00", "2026-01-01T10:01:00+00:00", "0.1.0", tests,
        requirement_results(load_catalog(), tests),
    )  # fmt: skip


@pytest.fixture
def key(tmp_path: Path) -> Path:
    return _key_file(tmp_path / "lab-signing.pem")


@pytest.fixture
def sealed(tmp_path: Path, key: Path) -> Path:
    report = tmp_path / "report"
    report.mkdir()
    write_report(_run(report), report, formats=("json", "csv", "junit", "html", "oscal"),
                 signing_key=load_signing_key(key))  # fmt: skip
    return report


def _problems(report: Path, pinned: Path | None = None) -> dict[str, str]:
    result = verify_report(report, load_public_key(pinned) if pinned else None)
    return {p.path: p.problem for p in result.problems}


def test_an_untouched_report_verifies_with_the_pinned_key(sealed: Path, key: Path, tmp_path: Path) -> None:
    public = _public_file(key, tmp_path / "lab.pub")
    result = verify_report(sealed, load_public_key(public))
    assert result.ok, result.problems
    assert result.signature.startswith("valid (ed25519:")
    listed = (sealed / "SHA256SUMS").read_text()
    for name in ("results.json", "requirements.csv", "junit.xml", "report.html", "oscal-assessment-results.json",
                 "evidence/SHA256SUMS", "evidence/login/console.log", "evidence/tls/capture.pcap"):  # fmt: skip
        assert f"  {name}\n" in listed, name


@pytest.mark.parametrize(
    "name", ["results.json", "report.html", "requirements.csv", "junit.xml", "oscal-assessment-results.json",
             "evidence/login/console.log", "evidence/tls/capture.pcap", "evidence/SHA256SUMS"],
)  # fmt: skip
def test_a_changed_file_of_each_kind_is_caught(sealed: Path, name: str) -> None:
    with (sealed / name).open("ab") as handle:
        handle.write(b" ")
    assert _problems(sealed).get(name) == "modified"


def test_a_missing_an_extra_and_a_symlinked_file_are_caught(sealed: Path, tmp_path: Path) -> None:
    (sealed / "junit.xml").unlink()
    (sealed / "evidence/notes.txt").write_text("added later")
    outside = tmp_path / "elsewhere.html"
    shutil.copyfile(sealed / "report.html", outside)
    (sealed / "report.html").unlink()
    os.symlink(outside, sealed / "report.html")  # same bytes, but not the run's file
    os.symlink(tmp_path, sealed / "evidence/linked-dir")
    problems = _problems(sealed)
    assert problems["junit.xml"] == "missing"
    assert problems["evidence/notes.txt"].startswith("not listed")
    assert problems["report.html"].startswith("symlink")
    assert problems["evidence/linked-dir"].startswith("symlink")


def test_a_rewritten_manifest_breaks_the_signature(sealed: Path) -> None:
    (sealed / "report.html").write_text("<p>all PASS</p>")
    lines = (sealed / "SHA256SUMS").read_text().splitlines()
    import hashlib

    digest = hashlib.sha256(b"<p>all PASS</p>").hexdigest()
    fixed = [f"{digest}  report.html" if line.endswith("  report.html") else line for line in lines]
    (sealed / "SHA256SUMS").write_text("\n".join(fixed) + "\n")
    assert _problems(sealed) == {"SHA256SUMS.sig": "does not verify with the key in SHA256SUMS.pub"}


def test_a_report_resealed_with_another_key_fails_against_the_pinned_one(
    sealed: Path, key: Path, tmp_path: Path
) -> None:
    from harness.report.manifest import write_manifest

    (sealed / "report.html").write_text("<p>all PASS</p>")
    write_manifest(sealed, load_signing_key(_key_file(tmp_path / "other.pem")))
    assert verify_report(sealed).ok  # consistent with itself, signed by someone...
    pinned = _public_file(key, tmp_path / "lab.pub")
    assert _problems(sealed, pinned) == {"SHA256SUMS.sig": "does not verify with the pinned key"}


def test_an_unsigned_report_fails_when_a_key_is_pinned(tmp_path: Path, key: Path) -> None:
    report = tmp_path / "unsigned"
    report.mkdir()
    write_report(_run(report), report)
    assert verify_report(report).ok and verify_report(report).signature == "unsigned"
    pinned = _public_file(key, tmp_path / "lab.pub")
    assert _problems(report, pinned) == {"SHA256SUMS.sig": "missing (a signed report was expected)"}


def _forge_rollup(report: Path) -> None:
    """Turn FS38-01 into PASS in the requirement table only, and re-seal without a key."""
    from harness.report.manifest import write_manifest
    from harness.report.sums import write_sha256sums

    data = json.loads((report / "results.json").read_text())
    for req in data["requirements"]:
        if req["id"] == "FS38-01":
            req["verdict"] = "PASS"
    (report / "results.json").write_text(json.dumps(data))
    write_sha256sums(report)
    write_manifest(report)


def test_requirement_verdicts_that_do_not_follow_from_the_tests_are_rejected(tmp_path: Path) -> None:
    report = tmp_path / "forged"
    report.mkdir()
    write_report(_run(report), report)
    good = tmp_path / "good"
    good.mkdir()
    write_report(_run(good), good)
    _forge_rollup(report)
    assert _problems(report) == {
        "results.json": "requirements: FS38-01 is PASS but its tests roll up to FAIL"
    }
    with pytest.raises(ConfigError, match="FS38-01 is PASS but its tests roll up to FAIL"):
        diff_runs(good, report)
    with pytest.raises(ConfigError, match="roll up"):
        rerender(report, ["html"], out=tmp_path / "out")


def test_rerender_never_reseals_a_sealed_report(sealed: Path, key: Path, tmp_path: Path) -> None:
    before = {p: p.read_bytes() for p in sealed.rglob("*") if p.is_file()}
    with pytest.raises(ConfigError, match="sealed"):
        rerender(sealed, ["html"])
    out = tmp_path / "rerendered"
    other = _key_file(tmp_path / "reviewer.pem")
    rerender(sealed, ["html", "csv"], out=out, signing_key=load_signing_key(other))
    assert {p: p.read_bytes() for p in sealed.rglob("*") if p.is_file()} == before
    assert verify_report(sealed).ok
    result = verify_report(out, load_public_key(_public_file(other, tmp_path / "reviewer.pub")))
    assert result.ok, result.problems
    origin = json.loads((out / "rendered-from.json").read_text())
    assert origin["formats"] == ["html", "csv"] and origin["source_signed"] is True
    import hashlib

    assert (
        origin["source_manifest_sha256"] == hashlib.sha256((sealed / "SHA256SUMS").read_bytes()).hexdigest()
    )


def test_cli_verify_exit_status_and_one_line_per_problem(
    sealed: Path, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    public = _public_file(key, tmp_path / "lab.pub")
    assert main(["report", "verify", str(sealed), "--public-key", str(public)]) == 0
    assert "intact; signature: valid" in capsys.readouterr().out
    (sealed / "requirements.csv").write_text("id,verdict\nFS38-01,PASS\n")
    assert main(["report", "verify", str(sealed)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"{sealed}: requirements.csv: modified"]
    assert main(["report", "verify", str(sealed), "--public-key", str(tmp_path / "none.pub")]) == 2


def test_lab_config_signing_key_must_be_ed25519(tmp_path: Path) -> None:
    from harness.config import load_lab_config

    rsa = tmp_path / "rsa.pem"
    done = subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-out", str(rsa)], capture_output=True, timeout=60
    )
    assert done.returncode == 0
    lab = tmp_path / "lab.yaml"
    lab.write_text(f"kind: lab-config\nsigning:\n  key: {rsa}\n")
    with pytest.raises(ConfigError) as caught:
        load_lab_config(lab)
    assert "signing.key" in str(caught.value) and "Ed25519" in str(caught.value)
    good = _key_file(tmp_path / "ed.pem")
    lab.write_text(f"kind: lab-config\nsigning:\n  key: {good}\n")
    assert load_lab_config(lab).signing.key == good


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is in the Makefile's APT_PACKAGES")
def test_openssl_verifies_the_signature_without_hilsec(sealed: Path) -> None:
    sig = sealed / "SHA256SUMS.sig"
    argv = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(sealed / "SHA256SUMS.pub"), "-rawin",
            "-in", str(sealed / "SHA256SUMS"), "-sigfile", str(sig)]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "Signature Verified Successfully" in done.stdout, done.stderr

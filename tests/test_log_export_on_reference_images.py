"""testsuites/test_log_export.py against reference images: each log-export knob makes it FAIL.

Four runs, two at a time (one QEMU each): the hardened image exports every induced event over
TLS and passes; `plaintext-syslog` fails "securely" (records over UDP); `no-log-export` fails
naming each event; the vulnerable image (every knob: plaintext wins) fails "securely".
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SUITE = "testsuites/test_log_export.py"
TEST = "test_security_events_are_exported_securely"
RUN_TIMEOUT_S = 300
PARALLEL_RUNS = 2
KNOBS: dict[str, list[str] | None] = {
    "hardened": [],
    "plaintext": ["plaintext-syslog"],
    "none": ["no-log-export"],
    "vulnerable": None,  # the shipped vulnerable profile: every knob, default password
}

pytestmark = pytest.mark.integration


def _profile(out: Path, knobs: list[str] | None) -> Path:
    """The hardened profile with exactly these knobs (relative paths made absolute)."""
    if knobs is None:
        return ROOT / "device_profiles/qemu-reference-vulnerable.yaml"
    source = ROOT / "device_profiles/qemu-reference-hardened.yaml"
    data = yaml.safe_load(source.read_text())
    data["console"]["qemu"]["weaknesses"] = knobs
    policy = data.get("update_policy") or {}
    if policy.get("update_manifest"):
        policy["update_manifest"] = str((source.parent / policy["update_manifest"]).resolve())
    data["name"] = "qemu-reference-" + ("+".join(knobs) or "hardened")
    path = out / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _run(out: Path, name: str, knobs: list[str] | None) -> tuple[subprocess.Popen, Path, object]:
    report = out / name
    cmd = [
        sys.executable, "-m", "pytest", str(ROOT / SUITE), "-p", "no:cacheprovider",
        "--device-profile", str(_profile(out, knobs)),
        "--lab-config", str(ROOT / "lab_configs/local-qemu.yaml"), "--report-dir", str(report),
    ]  # fmt: skip
    log = (out / f"{name}.log").open("w")
    return subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT), report, log


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("log-export")
    names = list(KNOBS)
    results: dict[str, dict] = {}
    for batch in range(0, len(names), PARALLEL_RUNS):
        started = {name: _run(out, name, KNOBS[name]) for name in names[batch : batch + PARALLEL_RUNS]}
        for name, (proc, report, log) in started.items():
            try:
                proc.wait(timeout=RUN_TIMEOUT_S)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)
                log.close()
            results_file = report / "results.json"
            assert results_file.is_file(), (out / f"{name}.log").read_text()[-3000:]
            data = json.loads(results_file.read_text())
            [test] = [t for t in data["tests"] if t["nodeid"].endswith(TEST)]
            fs38_07 = next(r for r in data["requirements"] if r["id"] == "FS38-07")
            results[name] = test | {"requirement": fs38_07["verdict"], "report": report}
    return results


def test_hardened_exports_every_event_over_tls(runs) -> None:
    run = runs["hardened"]
    assert (run["verdict"], run["requirement"]) == ("PASS", "PASS"), run
    [evidence] = [p for p in run["evidence"] if p.endswith("log-export.json")]
    data = json.loads((run["report"] / evidence).read_text())
    secure = data["assessment"]["exported_securely"]
    assert any("console" in e for e in secure) and any("SSH" in e for e in secure), data["assessment"]


def test_plaintext_syslog_fails_securely(runs) -> None:
    run = runs["plaintext"]
    assert (run["verdict"], run["requirement"]) == ("FAIL", "FAIL"), run
    assert "logs exported in plaintext (not securely)" in run["reason"] and "over UDP" in run["reason"]
    assert "was not exported" not in run["reason"], run["reason"]


def test_no_log_export_fails_naming_each_event(runs) -> None:
    run = runs["none"]
    assert (run["verdict"], run["requirement"]) == ("FAIL", "FAIL"), run
    assert "failed console login for 'root' was not exported" in run["reason"]
    assert "failed SSH login for 'root' from 10.0.2.2 was not exported" in run["reason"]
    assert "plaintext" not in run["reason"]


def test_vulnerable_fails(runs) -> None:
    run = runs["vulnerable"]
    assert (run["verdict"], run["requirement"]) == ("FAIL", "FAIL"), run
    assert "logs exported in plaintext (not securely)" in run["reason"]

"""Many boards, one run: a lab config's pool, one device per pytest-xdist worker held exclusively, one
merged report with a section per device; a second session waits or is refused naming the holder;
a killed holder leaves the device free (the kernel drops its flock)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.lab.locks import DeviceBusy, DeviceLock
from harness.report.manifest import verify_report

ROOT = Path(__file__).resolve().parent.parent

SUITE = """
import pytest

@pytest.mark.requirement("FS38-01")
def test_weak_only_on_board_b(hilsec_state):
    assert hilsec_state.device_name != "board-b", "board-b accepted admin:admin"

@pytest.mark.requirement("FS38-05")
def test_holds_its_device_exclusively(hilsec_state):
    import fcntl, os
    from harness.plugin.pool import lock_key
    from harness.lab.locks import DeviceLock
    key = lock_key(hilsec_state.profile, hilsec_state.lab)
    lock = DeviceLock(key, hilsec_state.lab.locks_dir)
    fd = os.open(lock.path, os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):  # the controller holds it for this worker
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
    (hilsec_state.report_dir.parent / f"ran-{hilsec_state.device_name}-{os.getpid()}").write_text(key)
"""


def _profile(folder: Path, name: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(
        textwrap.dedent(f"""
        kind: device-profile
        name: {name}
        vendor: Bench
        model: Board
        firmware_version: "1.0"
        console: {{serial: {{url: {folder / name}.tty}}}}
        login: {{username: root, password: pw, login_prompt: "login: ?$", password_prompt: "Password: ?$", shell_prompt: "# ?$"}}
        """)
    )
    return path


def _lab(folder: Path, pool: list[str]) -> Path:
    entries = "".join(f"  - {{name: {name}, profile: {name}.yaml}}\n" for name in pool)
    path = folder / "lab.yaml"
    path.write_text(f"kind: lab-config\nname: rack\nlocks_dir: {folder / 'locks'}\npool:\n{entries}")
    return path


@pytest.fixture
def bench(pytester: pytest.Pytester) -> Path:
    pytester.makepyfile(test_suite=SUITE)
    for name in ("board-a", "board-b"):
        _profile(pytester.path, name)
    return pytester.path


def test_two_workers_take_two_devices_and_merge_one_report(pytester: pytest.Pytester, bench: Path) -> None:
    lab = _lab(bench, ["board-a", "board-b"])
    report = bench / "report"
    result = pytester.runpytest_subprocess("-n", "2", "--lab-config", str(lab), "--report-dir", str(report))
    assert (report / "results.json").is_file(), result.stdout.str()[-3000:]
    data = json.loads((report / "results.json").read_text())
    assert data["schema_version"] == 2 and data["devices"] == ["board-a", "board-b"]
    import jsonschema

    from harness.report.json_report import results_schema

    jsonschema.validate(data, results_schema(), cls=jsonschema.Draft202012Validator)
    runs = {run["device"]["name"]: run for run in data["runs"]}
    for name, expected in (("board-a", "PASS"), ("board-b", "FAIL")):
        verdicts = {t["nodeid"].split("::")[-1]: t["verdict"] for t in runs[name]["tests"]}
        assert verdicts == {
            "test_weak_only_on_board_b": expected,
            "test_holds_its_device_exclusively": "PASS",
        }
    pool = {r["id"]: r for r in data["requirements"]}
    assert pool["FS38-01"]["verdict"] == "FAIL"
    assert pool["FS38-01"]["devices"] == {"board-a": "PASS", "board-b": "FAIL"}
    ran = sorted(p.name.rsplit("-", 1)[0] for p in bench.glob("ran-*"))
    assert ran == ["ran-board-a", "ran-board-b"]
    assert len({p.name.rsplit("-", 1)[1] for p in bench.glob("ran-*")}) == 2  # two worker processes
    assert runs["board-b"]["device"]["firmware_version"] == "1.0"
    html = (report / "report.html").read_text()
    assert 'data-device-column="board-a"' in html and 'data-device-column="board-b"' in html
    assert (report / "report-board-a.html").is_file() and (report / "report-board-b.html").is_file()
    suites = ET.parse(report / "junit.xml").getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == ["hilsec[board-a]", "hilsec[board-b]"]
    assert (report / "requirements.csv").read_text().splitlines()[0].startswith("device,id,")
    evidence = sorted(p.name for p in (report / "evidence").iterdir() if p.is_dir())
    assert all(name.startswith(("board-a", "board-b")) for name in evidence), evidence
    from harness.cli import main

    assert verify_report(report).ok, verify_report(report).problems
    assert main(["report", str(report), "--format", "oscal", "--out", str(bench / "re")]) == 0
    oscal = json.loads((bench / "re/oscal-assessment-results.json").read_text())
    assert len(oscal["assessment-results"]["results"]) == 2
    assert main(["report", "diff", str(report), str(report)]) == 0


def test_more_workers_than_devices_is_refused(pytester: pytest.Pytester, bench: Path) -> None:
    lab = _lab(bench, ["board-a"])
    result = pytester.runpytest_subprocess("-n", "2", "--lab-config", str(lab))
    assert result.ret == 2
    result.stderr.fnmatch_lines(["*2 workers but 1 device(s)*"])


def _run_session(bench: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        str(bench / "test_suite.py"),
        *args,
    ]
    return subprocess.Popen(
        argv, cwd=bench, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_a_second_session_is_refused_naming_who_holds_the_device(bench: Path) -> None:
    locks = bench / "locks"
    held = DeviceLock(str(bench / "board-a.tty"), locks)
    held.acquire(purpose="the first session")
    try:
        solo = bench / "solo.yaml"  # one bench device, no pool
        solo.write_text(f"kind: lab-config\nlocks_dir: {locks}\n")
        done = _run_session(
            bench, "--device-profile", "board-a.yaml", "--lab-config", str(solo), "-k", "weak"
        )
        out, _ = done.communicate(timeout=120)
    finally:
        held.release()
    assert done.returncode == 75, out  # EX_TEMPFAIL: in use, try again
    assert f"held by pid {os.getpid()}" in out and "--hilsec-wait" in out, out


def test_a_second_session_waits_with_hilsec_wait(bench: Path) -> None:
    lab = _lab(bench, ["board-a"])
    held = DeviceLock(str(bench / "board-a.tty"), bench / "locks")
    held.acquire()
    started = time.monotonic()
    waiting = _run_session(bench, "--lab-config", str(lab), "--hilsec-wait", "60", "-k", "weak")
    time.sleep(3)
    assert waiting.poll() is None  # still waiting for the device
    held.release()
    out, _ = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, out
    assert time.monotonic() - started >= 3


def test_a_pool_session_takes_the_first_free_device(bench: Path) -> None:
    lab = _lab(bench, ["board-a", "board-b"])
    held = DeviceLock(str(bench / "board-a.tty"), bench / "locks")
    held.acquire()
    try:
        report = bench / "r"
        done = _run_session(bench, "--lab-config", str(lab), "--report-dir", str(report), "-k", "weak")
        out, _ = done.communicate(timeout=120)
    finally:
        held.release()
    assert done.returncode == 1, out  # board-b's weakness: FAIL
    data = json.loads((report / "results.json").read_text())
    assert data["device"]["name"] == "board-b" and data["tests"][0]["verdict"] == "FAIL"


def test_a_killed_holder_leaves_the_device_free(tmp_path: Path) -> None:
    code = f"from harness.lab.locks import DeviceLock; import time; DeviceLock('board', {str(tmp_path)!r}).acquire(); print('held', flush=True); time.sleep(600)"
    holder = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(DeviceBusy, match=f"held by pid {holder.pid}"):
            DeviceLock("board", tmp_path).acquire()
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
        lock = DeviceLock("board", tmp_path)
        lock.acquire()  # no stale lock to clean up: the kernel dropped it with the process
        lock.release()
    finally:
        if holder.poll() is None:
            holder.kill()

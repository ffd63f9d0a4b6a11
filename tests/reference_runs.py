"""Run testsuites/ against reference images in QEMU, as the harness's integration tests do.

The `*_on_reference_images` tests and the knob matrix all prove the same thing: a suite fails
against an image with a weakness knob and passes without it. They share this module's two steps:
write a device profile with exactly the knobs wanted (`knob_profile`), then run the suites against
each profile as separate pytest processes, a few at a time, each bounded by a timeout, and read
their `results.json` (`run_suites`). Logs are kept next to the reports for assertion messages.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from harness.emulation.evasive import DECLARED_SERVICES

ROOT = Path(__file__).resolve().parent.parent
LAB_CONFIG = ROOT / "lab_configs/local-qemu.yaml"
LOG_TAIL_CHARS = 3000
# An overrunning run gets SIGINT first: pytest then tears its fixtures down, and with them QEMU
# (which runs in a session of its own, out of reach of a signal to the run's process group).
INTERRUPT_GRACE_S = 30
KILL_GRACE_S = 10
POLL_INTERVAL_S = 0.5


def reference_profile(variant: str) -> Path:
    """The shipped profile of a reference image: 'hardened' or 'vulnerable'."""
    return ROOT / f"device_profiles/qemu-reference-{variant}.yaml"


def knob_profile(
    out_dir: Path,
    knobs: Sequence[str] | None,
    *,
    base: str = "hardened",
    name: str | None = None,
    login_password: str | None = None,
    edit: Callable[[dict[str, Any]], None] | None = None,
) -> Path:
    """A copy of a reference profile with exactly these weakness knobs, written to `out_dir`.

    `knobs=None` keeps the base profile's own. The update manifest path is made absolute, so the
    copy works from any folder. The profile is named `name`, by default after its knobs; `edit`
    may change anything else in the loaded YAML before it is written.
    """
    source = reference_profile(base)
    data = yaml.safe_load(source.read_text())
    if knobs is not None:
        data["console"]["qemu"]["weaknesses"] = list(knobs)
        for knob in knobs:  # a maker that ships such a device declares these services
            data["network"]["services"] += DECLARED_SERVICES.get(knob, [])
    policy = data.get("update_policy") or {}
    if policy.get("update_manifest"):
        policy["update_manifest"] = str((source.parent / policy["update_manifest"]).resolve())
    data["name"] = name or "qemu-reference-" + ("+".join(knobs or ()) or base)
    if login_password is not None:
        data["login"]["password"] = login_password
    if edit is not None:
        edit(data)
    path = out_dir / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@dataclass(frozen=True)
class RunOutcome:
    """One finished suite run: its results.json, where its report is, and its pytest log."""

    name: str
    report_dir: Path
    results: dict[str, Any]
    log: str

    @property
    def tests(self) -> dict[str, dict[str, Any]]:
        """Each test's result by its short name (`test_x[param]`, without the module)."""
        return {t["nodeid"].split("::")[-1]: t for t in self.results["tests"]}

    def requirement(self, rid: str) -> dict[str, Any]:
        return next(r for r in self.results["requirements"] if r["id"] == rid)

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        return self.log[-chars:]


@dataclass
class _Started:
    name: str
    process: subprocess.Popen[bytes]
    log: IO[str]
    log_path: Path
    report_dir: Path
    deadline: float
    timed_out: bool = field(default=False)


def run_suites(
    out_dir: Path,
    profiles: Mapping[str, Path],
    suites: Sequence[str | Path],
    *,
    timeout_s: float,
    parallel: int | None = None,
    lab_config: Path | Mapping[str, Path] = LAB_CONFIG,
    pytest_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    prefix: Sequence[str] = (),
) -> dict[str, RunOutcome]:
    """Run `suites` (paths relative to the repository) once per named profile, `parallel` at a time
    (default: all at once), each in `out_dir/<name>` with its log in `out_dir/<name>.log`.

    `env` is added to each run's environment; `prefix` goes before its command (e.g. `unshare
    --net`, a run without any network). A run that overruns `timeout_s` is stopped. Raises AssertionError naming every run that timed
    out or wrote no results.json, with the tail of its log.
    """
    limit = parallel or len(profiles)
    waiting = list(profiles.items())
    running: list[_Started] = []
    finished: list[_Started] = []
    try:
        while waiting or running:
            while waiting and len(running) < limit:
                name, profile = waiting.pop(0)
                lab = lab_config if isinstance(lab_config, Path) else lab_config[name]
                running.append(
                    _start(out_dir, name, profile, lab, suites, pytest_args, timeout_s, env or {}, prefix)
                )
            for run in [r for r in running if r.process.poll() is not None or time.monotonic() > r.deadline]:
                if run.process.poll() is None:
                    run.timed_out = True
                    _stop(run.process)
                run.log.close()
                running.remove(run)
                finished.append(run)
            time.sleep(POLL_INTERVAL_S if running else 0)
    finally:
        for run in running:  # only when interrupted: leave no run behind
            _stop(run.process)
            run.log.close()
    return _outcomes(finished, profiles, timeout_s)


def _start(
    out_dir: Path,
    name: str,
    profile: Path,
    lab_config: Path,
    suites: Sequence[str | Path],
    pytest_args: Sequence[str],
    timeout_s: float,
    env: Mapping[str, str],
    prefix: Sequence[str],
) -> _Started:
    report_dir = out_dir / name
    cmd = [
        *prefix, sys.executable, "-m", "pytest", *(str(ROOT / suite) for suite in suites), "-p", "no:cacheprovider",
        "--device-profile", str(profile), "--lab-config", str(lab_config), "--report-dir", str(report_dir),
        *pytest_args,
    ]  # fmt: skip
    log_path = out_dir / f"{name}.log"
    log = log_path.open("w")
    # A session of its own, so that stopping the run reaches its whole process group.
    process = subprocess.Popen(
        cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **env}
    )
    return _Started(name, process, log, log_path, report_dir, time.monotonic() + timeout_s)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT (pytest tears down, QEMU with it), then SIGKILL to the process group; both bounded."""
    for sig, grace in ((signal.SIGINT, INTERRUPT_GRACE_S), (signal.SIGKILL, KILL_GRACE_S)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _outcomes(
    finished: list[_Started], profiles: Mapping[str, Path], timeout_s: float
) -> dict[str, RunOutcome]:
    outcomes: dict[str, RunOutcome] = {}
    problems: list[str] = []
    for run in finished:
        log = run.log_path.read_text(errors="replace")
        results_file = run.report_dir / "results.json"
        if run.timed_out:
            problems.append(f"{run.name}: timed out after {timeout_s} s\n{log[-LOG_TAIL_CHARS:]}")
        elif not results_file.is_file():
            problems.append(
                f"{run.name}: no results.json (exit {run.process.returncode})\n{log[-LOG_TAIL_CHARS:]}"
            )
        else:
            outcomes[run.name] = RunOutcome(
                run.name, run.report_dir, json.loads(results_file.read_text()), log
            )
    assert not problems, "\n\n".join(problems)
    return {name: outcomes[name] for name in profiles}


# --- the session's full-suite runs, shared by every test module that needs one ------------------

SUITE_TIMEOUT_S = 1200
SUITE_PARALLEL = 2  # two QEMU boards at a time on a 2-core machine
# The emulated pair is always run; the twins' pair when a selected test asks for it.
EMULATED_RUNS = ("emulated-hardened", "emulated-vulnerable")


def run_session_suites(out_dir: Path, wanted: set[str]) -> dict[str, RunOutcome]:
    """The emulated reference runs, plus the bench twins' when `wanted` (the hardened twin carries
    the console-lockout knob), all in one batch of `SUITE_PARALLEL` at a time (the twins' benches
    live for the batch)."""
    from support.bench_twin import start_reference_twins

    profiles: dict[str, Path] = {name: reference_profile(name.split("-", 1)[1]) for name in EMULATED_RUNS}
    labs: dict[str, Path] = dict.fromkeys(profiles, LAB_CONFIG)
    with start_reference_twins(out_dir / "benches", enabled="twin" in wanted) as twins:
        for name, twin in twins.items():
            profiles[name], labs[name] = twin.profile_path, twin.lab_config_path
        return run_suites(
            out_dir,
            profiles,
            ["testsuites"],
            timeout_s=SUITE_TIMEOUT_S,
            parallel=SUITE_PARALLEL,
            lab_config=labs,
            pytest_args=["-v"],
        )

"""Which tests cover which requirement IDs, found by pytest's own collection (no test runs).

Collection runs in-process with the hilsec plugin disabled, so it needs no device profile; the
collector registers the `requirement` marker itself so it also works standalone.
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import pytest

from harness.errors import ConfigError

MARKER_HELP = "requirement(*ids): catalog IDs (FS38-01, SSU-SEC-0010) and cross references the test checks"


class RequirementCollector:
    """A pytest plugin that records, per ID, the nodeids of tests marked with it."""

    def __init__(self) -> None:
        self.coverage: dict[str, list[str]] = {}
        self.errors: list[str] = []

    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", MARKER_HELP)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            detail = str(report.longrepr).strip().splitlines()
            self.errors.append(
                f"{report.nodeid or '(collection)'}: {detail[-1] if detail else 'collection failed'}"
            )

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            for mark in item.iter_markers("requirement"):
                for marker_id in mark.args:
                    nodeids = self.coverage.setdefault(str(marker_id), [])
                    if item.nodeid not in nodeids:
                        nodeids.append(item.nodeid)


def collect_coverage(testsuites_dir: str | Path, *, strict: bool = True) -> dict[str, list[str]]:
    """Map every ID used in `requirement` markers under `testsuites_dir` to the covering nodeids.

    With `strict`, a module that fails to collect is a ConfigError (one line) rather than a
    silent NOT_TESTED. sys.modules and sys.path are restored afterwards, so collecting twice
    (or from inside another pytest run) does not clash over module names.
    """
    directory = Path(testsuites_dir)
    if not directory.is_dir():
        raise ConfigError(directory, "", "no such directory", "a folder of test modules")
    collector = RequirementCollector()
    saved_modules = set(sys.modules)
    saved_path = list(sys.path)
    output = io.StringIO()
    args = [
        "--collect-only",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:hilsec",
        "-p",
        "no:harness.plugin",
        # labgrid's pytest plugin (hilsec[labgrid]) starts a process-wide step logger once per
        # process, so a second session inside a running one stops with an internal error.
        "-p",
        "no:labgrid",
        # Node IDs as a run from the project root names them ("testsuites/test_x.py::test_y"),
        # whatever the current directory is.
        f"--rootdir={directory.resolve().parent}",
        # Suites may share module basenames with modules already imported in this process.
        "--import-mode=importlib",
        str(directory),
    ]
    try:
        with contextlib.redirect_stdout(output):
            exit_code = pytest.main(args, plugins=[collector])
    finally:
        for name in set(sys.modules) - saved_modules:
            del sys.modules[name]
        sys.path[:] = saved_path
    if strict and (
        collector.errors or exit_code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
    ):
        first = collector.errors[0] if collector.errors else f"pytest exit status {int(exit_code)}"
        more = f" (and {len(collector.errors) - 1} more)" if len(collector.errors) > 1 else ""
        raise ConfigError(
            directory, "", f"test collection failed: {first}{more}", "test modules that import cleanly"
        )
    return collector.coverage

"""Progress lines for `hilsec run`: which test, on which device, how long the run has taken."""

from __future__ import annotations

import time
from typing import Any

import pytest

from harness.util.text import one_line


class RunProgress:
    """A pytest plugin object that prints one line when a test starts and one when it ends."""

    def __init__(self, device_name: str) -> None:
        self.device_name = device_name
        self.started = time.monotonic()
        self.reporter: Any = None

    def _elapsed(self) -> str:
        seconds = int(time.monotonic() - self.started)
        return f"{seconds // 60:02d}:{seconds % 60:02d}"

    def _line(self, text: str) -> None:
        if self.reporter is None:
            return
        self.reporter.ensure_newline()
        self.reporter.write_line(f"[{self._elapsed()}] {one_line(text)}")

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        self.reporter = config.pluginmanager.get_plugin("terminalreporter")

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        self._line(f"{self.device_name}: running {nodeid}")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or (report.when == "setup" and not report.passed):
            verdict = dict(report.user_properties).get("hilsec_verdict") or report.outcome.upper()
            self._line(f"{self.device_name}: {verdict:<14} {report.nodeid} ({report.duration:.1f} s)")

"""Fixtures for the harness's own tests, and the `unit` marker on every fast test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _inner_sessions_without_labgrid(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """labgrid's pytest plugin (installed with hilsec[labgrid]) starts a process-wide step logger once
    per process, so a pytester session inside this one would stop with an internal error. pytester
    clears PYTEST_ADDOPTS when it is set up, so this sets it after."""
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")
        extra = os.environ.get("PYTEST_ADDOPTS", "")
        monkeypatch.setenv("PYTEST_ADDOPTS", f"{extra} -p no:labgrid".strip())


# A fixture name in a selected test -> the group of full-suite runs it needs (see reference_suite_runs).
SUITE_RUN_GROUPS = {"twin_runs": "twin", "lockout_run": "twin"}


@pytest.fixture(scope="session")
def suite_runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("suite-runs")


@pytest.fixture(scope="session")
def reference_suite_runs(request: pytest.FixtureRequest, suite_runs_dir: Path) -> dict:
    """Every full testsuites/ run this session needs, started once and together: the emulated
    hardened and vulnerable images, and (when a selected test asks for them) the bench twins of
    both (the hardened one with the console-lockout knob), two at a time. Name -> RunOutcome."""
    from reference_runs import run_session_suites

    wanted = {
        group
        for item in request.session.items
        for fixture, group in SUITE_RUN_GROUPS.items()
        if fixture in getattr(item, "fixturenames", ())
    }
    return run_session_suites(suite_runs_dir, wanted)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not any(item.get_closest_marker(name) for name in ("integration", "knob_matrix")):
            item.add_marker(pytest.mark.unit)


@pytest.fixture
def boards() -> Iterator[list]:
    """The stand-in boards a test made (tests/support/board_standin.py), closed after it."""
    made: list = []
    yield made
    for board in made:
        board.close()


@pytest.fixture
def quick_strategy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Strategy looks in seconds instead of tens of seconds: a stand-in board answers at once."""
    import harness.device.strategy as strategy_module

    monkeypatch.setattr(strategy_module, "LOOK_TIMEOUT_S", 1.5)
    monkeypatch.setattr(strategy_module, "WAKE_INTERVAL_S", 0.5)
    monkeypatch.setattr(strategy_module, "LOCKOUT_RETRY_S", 0.5)

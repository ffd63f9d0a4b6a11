"""Fixtures for the harness's own tests, and the `unit` marker on every fast test."""

import pytest

pytest_plugins = ["pytester"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not any(item.get_closest_marker(name) for name in ("integration", "knob_matrix")):
            item.add_marker(pytest.mark.unit)

"""Fixtures shared by the security suites."""

from __future__ import annotations

import pytest

from harness.config.credentials import load_default_credentials


@pytest.fixture(scope="session")
def default_credentials() -> list[tuple[str, str]]:
    """The well-known default credentials that ship with hilsec (harness/data/default_credentials.txt)."""
    return load_default_credentials()


@pytest.fixture(scope="session")
def service_inventory(device):
    """Every TCP service on the device, found by a full lab-side port scan and identified by what
    answers (taken once: FS38-05 judges it, FS38-01 tries its login services)."""
    from harness.probes.service_id import take_inventory

    return take_inventory(device.network)

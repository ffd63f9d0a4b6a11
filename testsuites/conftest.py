"""Fixtures shared by the security suites."""

from __future__ import annotations

import pytest

from harness.config.credentials import load_default_credentials


@pytest.fixture(scope="session")
def default_credentials() -> list[tuple[str, str]]:
    """The well-known default credentials that ship with hilsec (harness/data/default_credentials.txt)."""
    return load_default_credentials()

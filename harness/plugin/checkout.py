"""Loading the plugin from a source checkout that is not pip-installed, under its real name.

The installed distribution registers the plugin through its `pytest11` entry point as `hilsec`.
A checkout without the package installed loads it from its conftest.py; registering it under the
same name keeps `-p no:hilsec` working there too.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import Any

PLUGIN_NAME = "hilsec"
PLUGIN_MODULE = "harness.plugin"


def installed() -> bool:
    """Whether the distribution's entry point will load the plugin anyway."""
    return any(ep.value == PLUGIN_MODULE for ep in importlib.metadata.entry_points(group="pytest11"))


def register_from_checkout(pluginmanager: Any, *, is_installed: bool | None = None) -> bool:
    """Register the plugin as `hilsec` unless installed, blocked (`-p no:hilsec`) or present."""
    if installed() if is_installed is None else is_installed:
        return False
    if pluginmanager.is_blocked(PLUGIN_NAME) or pluginmanager.has_plugin(PLUGIN_NAME):
        return False
    pluginmanager.register(importlib.import_module(PLUGIN_MODULE), PLUGIN_NAME)
    return True

"""Load the hilsec plugin when pytest runs inside the checkout without the package installed."""

import importlib.metadata

_installed = any(ep.value == "harness.plugin" for ep in importlib.metadata.entry_points(group="pytest11"))
if not _installed:
    pytest_plugins = ["harness.plugin"]

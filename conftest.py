"""Load the hilsec plugin (as `hilsec`) when pytest runs inside the checkout without the package
installed; `-p no:hilsec` still disables it (see harness/plugin/checkout.py)."""

from harness.plugin.checkout import register_from_checkout


def pytest_addoption(parser, pluginmanager):
    # pytest_addoption and pytest_configure are historic hooks: a plugin registered here still
    # gets both, so its options exist before the command line is parsed.
    register_from_checkout(pluginmanager)

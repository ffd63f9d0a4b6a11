"""The device under test: capabilities, the factory that builds them, the strategy that moves it."""

from harness.device.device import Device

__all__ = ["Device"]

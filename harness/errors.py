"""Exceptions that decide how a problem is reported.

A user mistake (ConfigError) is one line and exit status 2, never a traceback. A lost or
misbehaving device (DeviceError) makes the test INCONCLUSIVE, never FAIL and never PASS.
"""

from __future__ import annotations

from pathlib import Path

from harness.util.text import one_line


class HilsecError(Exception):
    """Base of every error the harness raises on purpose."""


class ConfigError(HilsecError):
    """A mistake in a file the user wrote: names the file, the field, the problem and the fix."""

    def __init__(self, file: str | Path, field: str, problem: str, expected: str = "") -> None:
        self.file = str(file)
        self.field = field
        self.problem = problem
        self.expected = expected
        super().__init__(str(self))

    def __str__(self) -> str:
        # One line whatever the parts hold: a key or file name with a newline cannot forge a line.
        where = f"{self.file}: {self.field}" if self.field else self.file
        fix = f"; expected {self.expected}" if self.expected else ""
        return one_line(f"{where}: {self.problem}{fix}")


class DeviceError(HilsecError):
    """The device could not be driven: the test cannot decide (INCONCLUSIVE)."""


class DeviceTimeout(DeviceError):
    """The device did not answer in time."""


class DeviceDisconnected(DeviceError):
    """The byte stream to the device closed (crash, power loss, unplugged cable)."""


class HarnessSetupError(HilsecError):
    """A lab-side component (QEMU, tshark, openssl, image build) could not be started."""

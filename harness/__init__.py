"""hilsec: a hardware-in-the-loop security test harness for cellular-connected devices."""

__version__ = "0.1.0"

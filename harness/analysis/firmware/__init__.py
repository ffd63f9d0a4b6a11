"""Reading a firmware image: every part unpacked within limits, every file scanned for secrets."""

from harness.analysis.firmware.scan import ImageScan, scan_firmware
from harness.analysis.firmware.secrets import Finding
from harness.analysis.firmware.unpack import Unpacker, UnpackLimits

__all__ = ["Finding", "ImageScan", "UnpackLimits", "Unpacker", "scan_firmware"]

"""Boot images whose signature no longer verifies, derived from the vendor-signed ones.

Two ways an attacker (or a careless build) ends up with such an image:
- `modify_kernel`: one byte of the signed kernel changed. The byte is in the kernel's version
  string (inside the setup code that the Authenticode hash covers), so the image still runs
  where nothing checks it, and where something does, it must be refused.
- `strip_signature`: a PE/COFF binary with its Authenticode certificate table removed, i.e. an
  unsigned build of the same boot loader.
"""

from __future__ import annotations

import struct

PE_POINTER_OFFSET = 0x3C
SECURITY_DIRECTORY_INDEX = 4
KERNEL_VERSION_POINTER = 0x20E  # x86 boot protocol: offset of the version string minus 0x200


class NotAPeImage(ValueError):
    """The data is not a PE/COFF image this module understands."""


def _data_directory_offset(data: bytes, index: int) -> int:
    if data[:2] != b"MZ" or len(data) < 0x40:
        raise NotAPeImage("no MZ header")
    pe = struct.unpack_from("<I", data, PE_POINTER_OFFSET)[0]
    if data[pe : pe + 4] != b"PE\0\0":
        raise NotAPeImage("no PE signature")
    optional = pe + 24
    magic = struct.unpack_from("<H", data, optional)[0]
    directories = optional + {0x10B: 96, 0x20B: 112}.get(magic, -1)
    if directories < optional:
        raise NotAPeImage(f"unknown optional header magic {magic:#x}")
    return directories + 8 * index


def certificate_table(data: bytes) -> tuple[int, int]:
    """(file offset, size) of the Authenticode certificate table; (0, 0) when unsigned."""
    return struct.unpack_from("<II", data, _data_directory_offset(data, SECURITY_DIRECTORY_INDEX))


def is_signed(data: bytes) -> bool:
    return certificate_table(data)[1] > 0


def strip_signature(data: bytes) -> bytes:
    """The same image with no certificate table (as if it had never been signed)."""
    entry = _data_directory_offset(data, SECURITY_DIRECTORY_INDEX)
    offset, size = struct.unpack_from("<II", data, entry)
    out = bytearray(data)
    struct.pack_into("<II", out, entry, 0, 0)
    if size and offset + size == len(data):
        del out[offset:]
    return bytes(out)


def kernel_version_offset(data: bytes) -> int:
    """File offset of the x86 kernel's version string (in the setup code, covered by the hash)."""
    if data[0x202:0x206] != b"HdrS":
        raise NotAPeImage("not an x86 bzImage (no HdrS boot header)")
    return struct.unpack_from("<H", data, KERNEL_VERSION_POINTER)[0] + 0x200


def modify_kernel(data: bytes) -> tuple[bytes, int]:
    """The signed kernel with one byte of its version string changed; returns (image, offset)."""
    is_signed(data)  # a PE image, or NotAPeImage
    offset = kernel_version_offset(data)
    out = bytearray(data)
    out[offset] = ord("X") if out[offset] != ord("X") else ord("Y")
    return bytes(out), offset

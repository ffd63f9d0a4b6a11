"""Decompress the LZ4 "legacy" frames that Linux uses for an LZ4-compressed kernel payload.

The standard library has no LZ4, and the builder should not need a host tool or an extra wheel
just to extract vmlinux once per kernel version (the result is cached).
"""

from __future__ import annotations

import struct

LEGACY_MAGIC = 0x184C2102


def decompress_block(src: bytes | memoryview, out: bytearray) -> None:
    """Append the decompressed form of one raw LZ4 block to out (matches stay inside out)."""
    base = len(out)
    src = bytes(src)
    size = len(src)
    pos = 0
    while pos < size:
        token = src[pos]
        pos += 1
        literals = token >> 4
        if literals == 15:
            while True:
                extra = src[pos]
                pos += 1
                literals += extra
                if extra != 255:
                    break
        out += src[pos : pos + literals]
        pos += literals
        if pos >= size:
            break
        distance = src[pos] | (src[pos + 1] << 8)
        pos += 2
        length = token & 15
        if length == 15:
            while True:
                extra = src[pos]
                pos += 1
                length += extra
                if extra != 255:
                    break
        length += 4
        start = len(out) - distance
        if distance == 0 or start < base:
            raise ValueError("corrupt LZ4 block: match before the block start")
        if distance >= length:
            out += out[start : start + length]
        else:
            pattern = out[start:]
            out += (pattern * (length // distance + 1))[:length]


def decompress_legacy(data: bytes) -> bytes:
    """All legacy-format frames at the start of data; trailing bytes that are no block end it."""
    (magic,) = struct.unpack_from("<I", data, 0)
    if magic != LEGACY_MAGIC:
        raise ValueError("not an LZ4 legacy frame")
    out = bytearray()
    pos = 4
    view = memoryview(data)
    while pos + 4 <= len(data):
        (block_size,) = struct.unpack_from("<I", data, pos)
        if block_size == LEGACY_MAGIC:
            pos += 4
            continue
        if block_size == 0 or pos + 4 + block_size > len(data):
            break
        decompress_block(view[pos + 4 : pos + 4 + block_size], out)
        pos += 4 + block_size
    return bytes(out)

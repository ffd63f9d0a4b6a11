"""Reading one DER element's header in untrusted bytes (a firmware image, an update package)."""

from __future__ import annotations


def der_element(data: bytes, offset: int, *, max_length_octets: int = 3) -> tuple[int, int, int] | None:
    """(tag, content start, content end) of the DER element at offset, or None if malformed or
    running past the end of `data`; a long-form length may take up to `max_length_octets`."""
    if offset < 0 or offset + 2 > len(data):
        return None
    tag, first = data[offset], data[offset + 1]
    if first < 0x80:
        start, length = offset + 2, first
    else:
        count = first & 0x7F
        if count == 0 or count > max_length_octets or offset + 2 + count > len(data):
            return None
        length = int.from_bytes(data[offset + 2 : offset + 2 + count], "big")
        start = offset + 2 + count
    end = start + length
    return (tag, start, end) if end <= len(data) else None

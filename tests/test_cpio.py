"""harness.util.cpio: the one cpio reader and writer, and its bounds against hostile headers."""

from __future__ import annotations

import io
import stat

import pytest

from harness.util.cpio import CRC_MAGIC, NAME_LIMIT, NEWC_MAGIC, CpioReader, CpioWriter, read_cpio


def _archive(*files: tuple[str, bytes], magic: bytes = NEWC_MAGIC) -> bytes:
    buffer = io.BytesIO()
    writer = CpioWriter(buffer, magic=magic)
    for name, data in files:
        writer.add_file(name, data)
    writer.close()
    return buffer.getvalue()


def _odc(name: str, data: bytes) -> bytes:
    def entry(entry_name: str, mode: int, body: bytes) -> bytes:
        encoded = entry_name.encode() + b"\0"
        fields = b"%06o" % 0 * 2 + b"%06o" % mode + b"%06o" % 0 * 2 + b"%06o" % 1 + b"%06o" % 0  # dev..rdev
        return (
            b"070707" + fields + b"%011o" % 0 + b"%06o" % len(encoded) + b"%011o" % len(body) + encoded + body
        )

    return entry(name, stat.S_IFREG | 0o644, data) + entry("TRAILER!!!", 0, b"")


def test_newc_crc_and_odc_read_back_and_the_reader_says_where_the_archive_ends() -> None:
    for blob in (_archive(("a", b"hello")), _archive(("a", b"hello"), magic=CRC_MAGIC), _odc("a", b"hello")):
        assert [(m.name, m.data) for m in read_cpio(blob)] == [("a", b"hello")]
        reader = CpioReader(io.BytesIO(blob + b"next part"))
        assert [entry.name for entry in reader] == ["a"] and reader.end == len(blob)


def test_a_format_not_asked_for_is_refused() -> None:
    with pytest.raises(ValueError, match="bad cpio magic"):
        read_cpio(_odc("a", b"x"), magics=(NEWC_MAGIC, CRC_MAGIC))


def test_a_huge_name_is_skipped_not_loaded_and_a_cut_one_is_refused() -> None:
    long_name = "d/" + "x" * (3 * NAME_LIMIT)
    blob = _archive((long_name, b"data"), ("b", b"more"))
    names = [entry.raw_name for entry in CpioReader(io.BytesIO(blob))]
    assert names == [long_name.encode()[:NAME_LIMIT], b"b"]  # positions stay right after the long one
    with pytest.raises(ValueError, match="truncated cpio name"):
        list(CpioReader(io.BytesIO(blob[: 110 + 50])))


def test_damaged_archives_raise_value_error() -> None:
    blob = _archive(("a", b"hello"), magic=CRC_MAGIC)
    with pytest.raises(ValueError, match="checksum"):
        read_cpio(blob.replace(b"hello", b"jello"))
    with pytest.raises(ValueError, match="truncated"):
        read_cpio(blob[:-200])
    with pytest.raises(ValueError, match="truncated"):
        read_cpio(blob[:-12])  # inside the trailer's name
    with pytest.raises(ValueError):
        read_cpio(b"070701" + b"zz" * 52)  # a header whose fields are not hex
    with pytest.raises(ValueError):
        read_cpio(blob.replace(b"a\0", b"\xff\0"))  # a name that is not UTF-8

"""Firmware image scanning reads every part: real formats made by their real tools (squashfs-tools,
e2fsprogs, mtd-utils, u-boot-tools), concatenated and compressed initramfs archives, secrets in
every common encoding, and the limits that stop archive bombs naming the part."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import subprocess
from pathlib import Path

import lz4.frame
import pytest
import pyzstd

from harness.analysis.firmware import UnpackLimits, scan_firmware
from harness.analysis.firmware.passwords import libcrypt_hash
from harness.analysis.firmware.secrets import find_api_tokens, find_private_keys
from harness.checks.secure_storage import judge_image_scan
from harness.results.verdicts import Verdict
from harness.util.cpio import CpioWriter

CREDENTIALS = [("root", "admin"), ("support", "support"), ("admin", "password")]
TOOL_TIMEOUT_S = 120


def _run(*argv: str, cwd: Path | None = None) -> bytes:
    return subprocess.run(argv, capture_output=True, check=True, timeout=TOOL_TIMEOUT_S, cwd=cwd).stdout


def cpio(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    writer = CpioWriter(buffer)
    for name, data in files.items():
        writer.add_file(name, data, 0o600)
    writer.close()
    return buffer.getvalue()


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, bytes]:
    """Private keys in every encoding the scan must find, made by openssl and ssh-keygen."""
    folder = tmp_path_factory.mktemp("keys")
    ec = _run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
    (folder / "ec.pem").write_bytes(ec)
    rsa = _run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024")
    (folder / "rsa.pem").write_bytes(rsa)
    _run("openssl", "req", "-x509", "-new", "-key", str(folder / "ec.pem"), "-subj", "/CN=fw", "-days", "1",
         "-out", str(folder / "cert.pem"))  # fmt: skip
    _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "id_ed25519"))
    return {
        "pkcs8-der": _run("openssl", "pkey", "-in", str(folder / "ec.pem"), "-outform", "DER"),
        "sec1-der": _run("openssl", "ec", "-in", str(folder / "ec.pem"), "-outform", "DER"),
        "pkcs1-der": _run(
            "openssl", "rsa", "-in", str(folder / "rsa.pem"), "-traditional", "-outform", "DER"
        ),
        "pkcs12": _run(
            "openssl",
            "pkcs12",
            "-export",
            "-inkey",
            str(folder / "ec.pem"),
            "-in",
            str(folder / "cert.pem"),
            "-passout",
            "pass:fw",
        ),  # fmt: skip
        "openssh": (folder / "id_ed25519").read_bytes(),
        "pem": rsa,
    }


@pytest.mark.parametrize("encoding", ["pkcs8-der", "sec1-der", "pkcs1-der", "pkcs12", "openssh", "pem"])
def test_every_key_encoding_is_found(keys, encoding):
    assert find_private_keys("/lib/firmware/blob", keys[encoding]), encoding


def test_api_tokens_are_found_in_text_files_only():
    config = b"cloud:\n  api_key: 'q8XzR2mN5vT1bW7yK3pL'\nAKIAIOSFODNN7EXAMPLE\n"
    assert {f.detail.split(" ")[0] for f in find_api_tokens("/etc/cloud.yaml", config)} >= {"AWS", "api_key"}
    assert not find_api_tokens("/usr/bin/x", b"\0" + config)
    assert not find_api_tokens("/etc/cloud.yaml", b"api_key: ${API_KEY}\n")


def test_concatenated_compressed_initramfs_is_read_to_the_end(keys, tmp_path):
    """A plain cpio, padding, then one archive per compression: each holds a secret the scan
    must find; the first scanner stopped at the first trailer and saw none of them."""
    yescrypt = libcrypt_hash("support", "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$")
    assert yescrypt is not None
    image = tmp_path / "initrd.img"
    image.write_bytes(
        cpio({"etc/hostname": b"node\n"})
        + b"\0" * 512
        + lzma.compress(cpio({"lib/firmware/provision.der": keys["pkcs8-der"]}), format=lzma.FORMAT_XZ)
        + pyzstd.compress(cpio({"etc/shadow.factory": f"support:{yescrypt}:1::::::\n".encode()}))
        + lz4.frame.compress(cpio({"etc/cloud.conf": b"API_TOKEN=q8XzR2mN5vT1bW7yK3pL\n"}))
        + bz2.compress(cpio({"etc/ssl/device.p12": keys["pkcs12"]}))
        + gzip.compress(cpio({"root/.ssh/id_ed25519": keys["openssh"]}))
    )
    scan = scan_firmware(image, CREDENTIALS)
    assert scan.unreadable == []
    assert [p.split(" ")[-1] for p in scan.parts] == [
        "(cpio)", "(xz)", "(cpio)", "(zstd)", "(cpio)", "(lz4)", "(cpio)", "(bzip2)", "(cpio)", "(gzip)", "(cpio)",
    ]  # fmt: skip
    found = {f.path.rsplit(":", 1)[-1]: f.kind for f in scan.findings}
    assert found == {
        "/lib/firmware/provision.der": "private-key",
        "/etc/shadow.factory": "default-password",
        "/etc/cloud.conf": "api-token",
        "/etc/ssl/device.p12": "private-key",
        "/root/.ssh/id_ed25519": "private-key",
    }


def _tree(folder: Path, key: bytes) -> Path:
    root = folder / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hostname").write_text("node\n")
    (root / "etc" / "device.key").write_bytes(key)
    return root


def _squashfs(folder: Path, root: Path) -> Path:
    _run("mksquashfs", str(root), str(folder / "fs.img"), "-quiet", "-noappend", "-comp", "xz")
    return folder / "fs.img"


def _ext4(folder: Path, root: Path) -> Path:
    image = folder / "fs.img"
    with open(image, "wb") as handle:
        handle.truncate(8 << 20)
    _run("mkfs.ext4", "-q", "-d", str(root), str(image))
    return image


def _jffs2(folder: Path, root: Path) -> Path:
    _run("mkfs.jffs2", "-r", str(root), "-o", str(folder / "fs.img"), "-e", "0x10000")
    return folder / "fs.img"


def _ubi(folder: Path, root: Path) -> Path:
    _run(
        "mkfs.ubifs",
        "-r",
        str(root),
        "-m",
        "2048",
        "-e",
        "129024",
        "-c",
        "64",
        "-o",
        str(folder / "ubifs.img"),
    )
    (folder / "ubi.ini").write_text(
        "[rootfs]\nmode=ubi\nimage=ubifs.img\nvol_id=0\nvol_type=dynamic\nvol_name=rootfs\nvol_flags=autoresize\n"
    )
    _run("ubinize", "-o", "fs.img", "-m", "2048", "-p", "128KiB", "ubi.ini", cwd=folder)
    return folder / "fs.img"


def _fit(folder: Path, root: Path) -> Path:
    """A FIT (u-boot-tools' mkimage) with a kernel and a gzip ramdisk holding the tree."""
    (folder / "Image").write_bytes(b"\x7fELF" + bytes(4000))
    ramdisk = cpio({f"etc/{p.name}": p.read_bytes() for p in (root / "etc").iterdir()})
    (folder / "ramdisk.gz").write_bytes(gzip.compress(ramdisk))
    (folder / "fit.its").write_text(
        '/dts-v1/;\n/ { description = "fw"; #address-cells = <1>;\n images {\n'
        '  kernel { data = /incbin/("Image"); type = "kernel"; arch = "arm64"; os = "linux";'
        ' compression = "none"; load = <0x80000>; entry = <0x80000>; };\n'
        '  ramdisk { data = /incbin/("ramdisk.gz"); type = "ramdisk"; arch = "arm64"; os = "linux";'
        ' compression = "gzip"; };\n };\n'
        ' configurations { default = "conf"; conf { kernel = "kernel"; ramdisk = "ramdisk"; }; };\n};\n'
    )
    _run("mkimage", "-f", "fit.its", "fs.img", cwd=folder)
    return folder / "fs.img"


@pytest.mark.parametrize("build", [_squashfs, _ext4, _jffs2, _ubi, _fit], ids=lambda b: b.__name__.strip("_"))
def test_filesystem_images_are_unpacked_and_scanned(keys, tmp_path, build):
    image = build(tmp_path, _tree(tmp_path, keys["sec1-der"]))
    scan = scan_firmware(image, CREDENTIALS)
    assert scan.unreadable == [], scan.parts
    assert [f.path.rsplit("/", 1)[-1] for f in scan.of_kind("private-key")] == ["device.key"], scan.parts
    assert judge_image_scan(scan, "", ["private-key"]).verdict is Verdict.FAIL


def test_squashfs_appended_after_a_kernel_blob_is_read(keys, tmp_path):
    """A raw flash dump: a cpio, then a squashfs at the next erase block."""
    squashfs = _squashfs(tmp_path, _tree(tmp_path, keys["pem"])).read_bytes()
    first = cpio({"etc/hostname": b"node\n"})
    image = tmp_path / "flash.bin"
    image.write_bytes(first + b"\0" * (65536 - len(first)) + squashfs)
    scan = scan_firmware(image, CREDENTIALS)
    assert scan.unreadable == [] and len(scan.of_kind("private-key")) == 1


def test_a_part_in_no_known_format_is_inconclusive_naming_it(tmp_path):
    image = tmp_path / "initrd.img"
    image.write_bytes(cpio({"etc/hostname": b"node\n"}) + b"\x13\x37 vendor blob " * 20)
    scan = scan_firmware(image, CREDENTIALS)
    assert len(scan.unreadable) == 1 and "initrd.img#2" in scan.unreadable[0]
    outcome = judge_image_scan(scan, "", ["private-key"])
    assert outcome.verdict is Verdict.INCONCLUSIVE and "initrd.img#2" in outcome.reason


def test_an_image_of_no_known_format_is_inconclusive(tmp_path):
    image = tmp_path / "blob.bin"
    image.write_bytes(b"\x13\x37" * 1000)
    scan = scan_firmware(image, CREDENTIALS)
    assert judge_image_scan(scan, "", ["private-key"]).verdict is Verdict.INCONCLUSIVE


def test_damaged_compressed_part_is_inconclusive(tmp_path):
    image = tmp_path / "initrd.img"
    image.write_bytes(cpio({"a": b"1"}) + lzma.compress(cpio({"b": b"2"}), format=lzma.FORMAT_XZ)[:-20])
    scan = scan_firmware(image, CREDENTIALS)
    assert scan.unreadable and "xz" in scan.unreadable[0]


def test_decompression_bomb_stops_at_the_byte_limit(tmp_path):
    image = tmp_path / "bomb.img"
    bomb = gzip.compress(cpio({"zeros": bytes(64 << 20)}), compresslevel=9)
    image.write_bytes(bomb)
    assert len(bomb) < 100_000
    scan = scan_firmware(image, CREDENTIALS, limits=UnpackLimits(total_bytes=8 << 20))
    assert scan.unreadable and "more than 8388608 bytes" in scan.unreadable[0]
    assert judge_image_scan(scan, "", ["private-key"]).verdict is Verdict.INCONCLUSIVE


def test_squashfs_bomb_is_stopped_while_it_unpacks(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    for index in range(4):
        with open(root / f"zeros{index}", "wb") as handle:
            handle.write(bytes(16 << 20))
    image = _squashfs(tmp_path, root)
    assert image.stat().st_size < 200_000
    scan = scan_firmware(image, CREDENTIALS, limits=UnpackLimits(total_bytes=20 << 20))
    assert scan.unreadable and "limit" in scan.unreadable[0]


def test_file_count_and_depth_limits_name_the_part(tmp_path):
    many = tmp_path / "many.img"
    many.write_bytes(cpio({f"f{i}": b"x" for i in range(50)}))
    assert (
        "more than 20 files" in scan_firmware(many, CREDENTIALS, limits=UnpackLimits(files=20)).unreadable[0]
    )
    nested = cpio({"etc/hostname": b"node\n"})
    for _ in range(6):
        nested = gzip.compress(nested)
    deep = tmp_path / "deep.img"
    deep.write_bytes(nested)
    assert (
        "nested deeper than 3" in scan_firmware(deep, CREDENTIALS, limits=UnpackLimits(depth=3)).unreadable[0]
    )


def test_hash_schemes_not_recomputable_are_unchecked_not_safe(tmp_path):
    image = tmp_path / "initrd.img"
    image.write_bytes(cpio({"etc/shadow": b"root:$99$unknownscheme$abcdefgh:1::::::\n"}))
    scan = scan_firmware(image, CREDENTIALS)
    outcome = judge_image_scan(scan, "", ["default-password", "empty-password"])
    assert outcome.verdict is Verdict.INCONCLUSIVE and "could not be recomputed" in outcome.reason

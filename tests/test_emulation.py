"""Fast tests of the image builder's pure parts: cpio, ELF reading, libraries, knobs, cache key."""

from __future__ import annotations

import io
import shutil
import stat
import struct
import sys
from pathlib import Path

import pytest

from harness.emulation import builder, elf, kernel, lz4legacy
from harness.emulation.debs import PackageRef, parse_policy
from harness.emulation.initramfs import InitramfsTree, resolve_in_root, resolve_libraries
from harness.emulation.variants import VARIANTS, WEAKNESSES, Variant, get_variant
from harness.errors import HarnessSetupError
from harness.util.cpio import NEWC_MAGIC, CpioWriter, read_cpio

PACKAGES = [PackageRef("busybox-static", "1:1.35.0-4"), PackageRef("openssl", "3.0.22-1")]


# -- cpio -------------------------------------------------------------------------------------
def test_cpio_round_trip_with_device_nodes_and_symlinks() -> None:
    buffer = io.BytesIO()
    writer = CpioWriter(buffer)
    writer.add_directory("dev")
    writer.add_char_device("dev/console", 5, 1)
    writer.add_file("/init", b"#!/bin/sh\n", 0o755)
    writer.add_symlink("bin/sh", "busybox")
    writer.close()
    blob = buffer.getvalue()
    assert len(blob) % 4 == 0
    entries = {m.name: (m.mode, m.data) for m in read_cpio(blob, magics=(NEWC_MAGIC,))}
    assert stat.S_ISCHR(entries["dev/console"][0])
    assert entries["init"] == (stat.S_IFREG | 0o755, b"#!/bin/sh\n")
    assert stat.S_ISLNK(entries["bin/sh"][0]) and entries["bin/sh"][1] == b"busybox"
    console_header = blob[blob.index(b"dev/console") - 110 : blob.index(b"dev/console")]
    assert int(console_header[78:86], 16) == 5 and int(console_header[86:94], 16) == 1  # rdev


def test_cpio_matches_the_cpio_tool_when_present(tmp_path: Path) -> None:
    if shutil.which("cpio") is None:
        pytest.skip("no cpio tool to cross-check with")
    import subprocess

    archive = tmp_path / "a.cpio"
    with archive.open("wb") as stream:
        writer = CpioWriter(stream)
        writer.add_directory("etc")
        writer.add_file("etc/hostname", b"hilsec-ref\n")
        writer.close()
    listing = subprocess.run(
        ["cpio", "-it"], stdin=archive.open("rb"), capture_output=True, text=True, timeout=10
    )
    assert listing.stdout.split() == ["etc", "etc/hostname"]


def test_initramfs_tree_creates_parents_and_writes_sorted(tmp_path: Path) -> None:
    fs = InitramfsTree()
    fs.file("usr/share/udhcpc/default.script", b"#!/bin/sh\n", 0o755)
    fs.symlink("lib64/ld.so", "/lib/x86_64-linux-gnu/ld.so")
    fs.directory("tmp", 0o1777)
    fs.write_cpio(tmp_path / "i.cpio")
    names = [m.name for m in read_cpio((tmp_path / "i.cpio").read_bytes(), magics=(NEWC_MAGIC,))]
    assert names.index("usr") < names.index("usr/share") < names.index("usr/share/udhcpc/default.script")
    assert "lib64" in names
    modes = {m.name: m.mode for m in read_cpio((tmp_path / "i.cpio").read_bytes(), magics=(NEWC_MAGIC,))}
    assert modes["tmp"] & 0o7777 == 0o1777


# -- variants -----------------------------------------------------------------------------------
def test_variants_are_sets_of_named_weaknesses() -> None:
    assert VARIANTS["hardened"].weaknesses == frozenset()
    assert VARIANTS["vulnerable"].weaknesses == set(WEAKNESSES)
    assert {"default-password", "open-telnet", "plaintext-telemetry"} <= set(WEAKNESSES)
    assert all(description.strip() for description in WEAKNESSES.values())


def test_variant_consequences() -> None:
    hardened, vulnerable = get_variant("hardened"), get_variant("vulnerable")
    assert hardened.root_password == "Hs7-quartz-Velvet-9041"
    assert vulnerable.root_password == "admin"
    assert hardened.firmware_version == "1.0.0-hardened"
    assert "TELNETD='no'" in hardened.device_config() and "TELEMETRY='dtls'" in hardened.device_config()
    assert "TELNETD='yes'" in vulnerable.device_config()
    assert "TELEMETRY='plain'" in vulnerable.device_config()
    assert "netcat-traditional" in vulnerable.packages and "netcat-traditional" not in hardened.packages
    assert "VERSION=1.0.0-vulnerable" in vulnerable.release_file()


def test_undeclared_interface_knob_loads_dummy_only_where_it_is_on() -> None:
    hardened, knob = get_variant("hardened"), Variant.custom({"undeclared-interface-up"})
    assert "dummy" in knob.network_modules and "dummy" not in hardened.network_modules
    assert "EXTRA_INTERFACE='maint0'" in knob.device_config()
    assert "EXTRA_INTERFACE=''" in hardened.device_config()


def test_profiles_name_the_variant_passwords() -> None:
    profiles = Path(__file__).resolve().parents[1] / "device_profiles"
    for name in ("hardened", "vulnerable"):
        text = (profiles / f"qemu-reference-{name}.yaml").read_text()
        assert f'password: "{get_variant(name).root_password}"' in text


def test_custom_variants_and_unknown_names() -> None:
    assert Variant.custom(set(WEAKNESSES)).name == "vulnerable"
    assert Variant.custom(set()).name == "hardened"
    telnet_only = Variant.custom({"open-telnet"})
    assert telnet_only.name == "custom-open-telnet"
    assert telnet_only.root_password == "Hs7-quartz-Velvet-9041"
    with pytest.raises(ValueError, match="unknown weakness"):
        Variant.custom({"no-such-knob"})
    with pytest.raises(ValueError, match="unknown variant"):
        get_variant("medium")


# -- cache key ----------------------------------------------------------------------------------
def test_cache_key_changes_with_each_input(tmp_path: Path) -> None:
    sources = builder.source_files()
    base = builder.cache_key(get_variant("hardened"), PACKAGES, sources)
    assert base == builder.cache_key(get_variant("hardened"), list(reversed(PACKAGES)), sources)
    assert base != builder.cache_key(Variant.custom({"open-telnet"}), PACKAGES, sources)
    assert base != builder.cache_key(Variant.custom({"default-password"}), PACKAGES, sources)
    newer = [PACKAGES[0], PackageRef("openssl", "3.0.23-1")]
    assert base != builder.cache_key(get_variant("hardened"), newer, sources)
    edited = tmp_path / "rcS"
    edited.write_text("changed overlay file\n")
    assert base != builder.cache_key(get_variant("hardened"), PACKAGES, [*sources, edited])


def test_source_files_cover_modules_and_overlay() -> None:
    names = {path.name for path in builder.source_files()}
    assert {"builder.py", "variants.py", "rcS", "inittab", "hilsec-telemetry", "init"} <= names


def test_policy_parsing() -> None:
    text = (
        "openssl:\n  Installed: (none)\n  Candidate: 3.0.22-1~deb12u2\n  Version table:\n"
        "nosuch:\n  Installed: (none)\n  Candidate: (none)\n"
    )
    assert parse_policy(text) == {"openssl": "3.0.22-1~deb12u2"}
    assert PackageRef("busybox-static", "1:1.35").file_glob == "busybox-static_1%3a1.35_*.deb"


# -- ELF, libraries, kernel -------------------------------------------------------------------------
def test_elf_reader_on_the_running_python() -> None:
    info = elf.read_elf(Path(sys.executable).resolve())
    assert info.interpreter is None or info.interpreter.startswith("/")
    with pytest.raises(elf.NotElfError):
        elf.read_elf(Path(__file__))


def _fake_elf(needed: list[str], interpreter: str | None = None) -> bytes:
    """A minimal ELF64 with PT_INTERP and a .dynamic section (a test fixture, not a real binary)."""
    strtab = b"\0" + b"".join(name.encode() + b"\0" for name in needed)
    shstrtab = b"\0.dynstr\0.dynamic\0.shstrtab\0"
    offsets, pos = [], 1
    for name in needed:
        offsets.append(pos)
        pos += len(name) + 1
    dynamic = b"".join(struct.pack("<qQ", elf.DT_NEEDED, off) for off in offsets) + struct.pack("<qQ", 0, 0)
    interp = (interpreter.encode() + b"\0") if interpreter else b""
    phnum = 1 if interp else 0
    body_start = 64 + 56 * phnum
    interp_off = body_start
    strtab_off = interp_off + len(interp)
    dynamic_off = strtab_off + len(strtab)
    shstr_off = dynamic_off + len(dynamic)
    shoff = shstr_off + len(shstrtab)
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<QQ", header, 0x20, 64 if phnum else 0, shoff)
    struct.pack_into("<HHHHH", header, 0x36, 56, phnum, 64, 4, 3)
    phdr = (
        struct.pack("<IIQQQQQQ", elf.PT_INTERP, 4, interp_off, 0, 0, len(interp), len(interp), 1)
        if interp
        else b""
    )

    def section(name: int, stype: int, offset: int, size: int, link: int = 0) -> bytes:
        return struct.pack("<IIQQQQIIQQ", name, stype, 0, 0, offset, size, link, 0, 1, 0)

    sections = (
        bytes(64)
        + section(1, 3, strtab_off, len(strtab))
        + section(9, elf.SHT_DYNAMIC, dynamic_off, len(dynamic), link=1)
        + section(18, 3, shstr_off, len(shstrtab))
    )
    return bytes(header) + phdr + interp + strtab + dynamic + shstrtab + sections


def test_library_closure_is_resolved_inside_the_unpacked_root(tmp_path: Path) -> None:
    loader = "/lib64/ld-linux-x86-64.so.2"
    libdir = tmp_path / "lib/x86_64-linux-gnu"
    libdir.mkdir(parents=True)
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/openssl").write_bytes(_fake_elf(["libssl.so.3", "libc.so.6"], loader))
    (tmp_path / "usr/lib/x86_64-linux-gnu").mkdir(parents=True)
    (tmp_path / "usr/lib/x86_64-linux-gnu/libssl.so.3").write_bytes(_fake_elf(["libcrypto.so.3"]))
    (tmp_path / "usr/lib/x86_64-linux-gnu/libcrypto.so.3").write_bytes(_fake_elf(["libc.so.6"]))
    (libdir / "libc.so.6").write_bytes(_fake_elf(["ld-linux-x86-64.so.2"]))
    (libdir / "ld-linux-x86-64.so.2").write_bytes(_fake_elf([]))
    (tmp_path / "lib64").mkdir()
    # An absolute symlink, as in Debian's libc6: it must resolve inside the root, not on the host.
    (tmp_path / "lib64/ld-linux-x86-64.so.2").symlink_to("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
    assert (
        resolve_in_root(tmp_path, "lib64/ld-linux-x86-64.so.2") == "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    )

    libraries = resolve_libraries(["usr/bin/openssl"], tmp_path)
    assert libraries == [
        "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        "lib/x86_64-linux-gnu/libc.so.6",
        "lib64/ld-linux-x86-64.so.2",
        "usr/lib/x86_64-linux-gnu/libcrypto.so.3",
        "usr/lib/x86_64-linux-gnu/libssl.so.3",
    ]


def test_missing_library_names_the_library(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/dropbear").write_bytes(_fake_elf(["libtomcrypt.so.1"]))
    with pytest.raises(HarnessSetupError, match="libtomcrypt.so.1"):
        resolve_libraries(["bin/dropbear"], tmp_path)


def test_module_load_order_puts_dependencies_first() -> None:
    depends = {
        "virtio_net": ["net_failover", "virtio", "virtio_ring"],
        "net_failover": ["failover"],
        "failover": [],
        "virtio": ["virtio_ring"],
        "virtio_ring": [],
        "virtio_pci": ["virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio", "virtio_ring"],
        "virtio_pci_legacy_dev": [],
        "virtio_pci_modern_dev": [],
    }
    index = {name: Path(f"{name}.ko") for name in depends}
    order = kernel.module_load_order(["virtio_pci", "virtio_net"], index, depends.__getitem__)
    for module, needs in depends.items():
        assert all(order.index(need) < order.index(module) for need in needs)
    assert order[-1] == "virtio_net" and len(order) == len(depends)
    with pytest.raises(HarnessSetupError, match="e1000"):
        kernel.module_load_order(["e1000"], index, depends.__getitem__)


def test_config_value() -> None:
    text = "CONFIG_PVH=y\n# CONFIG_E1000 is not set\nCONFIG_VIRTIO_NET=m\n"
    assert kernel.config_value(text, "CONFIG_PVH") == "y"
    assert kernel.config_value(text, "CONFIG_VIRTIO_NET") == "m"
    assert kernel.config_value(text, "CONFIG_E1000") is None


def test_lz4_legacy_literals_and_overlapping_matches() -> None:
    # One block: literals "ab", then a match of length 6 at distance 2 ("ababab"), then literal "!".
    block = bytes([0x22]) + b"ab" + struct.pack("<H", 2) + bytes([0x10]) + b"!"
    frame = struct.pack("<I", lz4legacy.LEGACY_MAGIC) + struct.pack("<I", len(block)) + block
    assert lz4legacy.decompress_legacy(frame + struct.pack("<I", 9)) == b"abababab!"


def test_extract_vmlinux_from_an_xz_payload() -> None:
    import lzma

    payload = lzma.compress(b"\x7fELF" + bytes(100), format=lzma.FORMAT_XZ)
    image = bytearray(2 * 512 + 16 + len(payload))
    image[0x1F1] = 1  # one setup sector: the payload area starts at byte 1024
    struct.pack_into("<II", image, 0x248, 16, len(payload))
    image[1024 + 16 :] = payload
    assert kernel.extract_vmlinux(bytes(image)) == b"\x7fELF" + bytes(100)
    image[1024 + 16] = 0
    assert kernel.extract_vmlinux(bytes(image)) is None

"""build_image(): the reference firmware (kernel + initramfs) for one variant, cached by content.

The cache key covers this package's own source and overlay files, the variant's weaknesses and
the exact Debian package versions, so any change to any of them gives a new image and an
unchanged input gives the cached one without downloading or unpacking anything.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.emulation import debs, evasive, kernel, storage
from harness.emulation.initramfs import LIBRARY_DIRS, InitramfsTree, resolve_in_root, resolve_libraries
from harness.emulation.variants import (
    KERNEL_META_PACKAGE,
    KERNEL_PACKAGE_PREFIX,
    Variant,
    get_variant,
)
from harness.errors import HarnessSetupError
from harness.updates.signing import CURRENT, UPDATE_SIGNING_DIR, UPDATE_TRUST_ANCHOR, WEAK, create_identity
from harness.util.deadlines import wait_until
from harness.util.files import try_flock

PACKAGE_DIR = Path(__file__).resolve().parent
OVERLAY_DIR = PACKAGE_DIR / "overlay"
CACHE_ENV = "HILSEC_IMAGE_CACHE"
DEFAULT_CACHE = Path("~/.cache/hilsec/images")
BASE_APPEND = "console=ttyS0,115200 quiet panic=-1"
MANIFEST = "image.json"
LOCK_TIMEOUT_S = 900.0
LOCK_POLL_S = 0.2
PASSWORD_HASH_TIMEOUT_S = 30.0

Progress = Callable[[str], None]


@dataclass
class ReferenceImage:
    """A bootable reference firmware; root is the cache folder holding its files."""

    variant: str
    kernel: Path
    initrd: Path
    append: str
    digest: str
    root: Path


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def source_files() -> list[Path]:
    """The builder's own inputs: its Python modules and every overlay file."""
    files = sorted(PACKAGE_DIR.glob("*.py")) + sorted(p for p in OVERLAY_DIR.rglob("*") if p.is_file())
    return [p for p in files if "__pycache__" not in p.parts]


def cache_key(variant: Variant, packages: Iterable[debs.PackageRef], sources: Iterable[Path]) -> str:
    """sha256 over the variant's knobs, the exact package versions and the builder's files."""
    digest = hashlib.sha256()
    digest.update(f"variant={variant.name}\n".encode())
    digest.update(f"weaknesses={','.join(sorted(variant.weaknesses))}\n".encode())
    digest.update(f"hardenings={','.join(sorted(variant.hardenings))}\n".encode())
    # What this process will actually write, not only the files on disk: a process that loaded the
    # builder's modules before they were edited must not file its image under the new sources' key.
    digest.update(variant.device_config().encode())
    digest.update(variant.release_file().encode())
    for ref in sorted(packages):
        digest.update(f"package={ref}\n".encode())
    for path in sources:
        relative = path.relative_to(PACKAGE_DIR) if path.is_relative_to(PACKAGE_DIR) else path.name
        digest.update(f"file={relative}:{path.stat().st_mode & 0o111:o}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def build_image(
    variant: str = "hardened",
    *,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    weaknesses: Iterable[str] | None = None,
    hardenings: Iterable[str] | None = None,
) -> ReferenceImage:
    """The image for a named variant (or for an explicit set of weaknesses, and of hardening
    knobs), built if not cached."""
    say = progress or (lambda line: None)
    chosen = get_variant(variant)
    if weaknesses is not None or hardenings:
        base = chosen.weaknesses if weaknesses is None else set(weaknesses)
        chosen = Variant.custom(set(base), set(hardenings or ()))
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)

    kernel_package, packages = _resolve_packages(chosen, cache, say)
    digest = cache_key(chosen, packages, source_files())
    image_dir = cache / f"{chosen.name}-{digest[:16]}"

    cached = _load_manifest(image_dir)
    if cached:
        say(f"cached image {image_dir}")
        return cached
    with _cache_lock(cache / "build.lock"):
        cached = _load_manifest(image_dir)
        if cached:
            say(f"cached image {image_dir}")
            return cached
        return _build(chosen, packages, kernel_package, digest, cache, image_dir, say)


def _resolve_packages(variant: Variant, cache: Path, say: Progress) -> tuple[str, list[debs.PackageRef]]:
    """Exact versions of the variant's packages and of the kernel, reused while apt's state holds."""
    fingerprint = hashlib.sha256(
        f"{debs.apt_state_fingerprint()}|{KERNEL_META_PACKAGE}|{','.join(variant.packages)}".encode()
    ).hexdigest()
    memo = cache / "resolved" / f"{fingerprint[:32]}.json"
    try:
        data = json.loads(memo.read_text())
        return data["kernel_package"], [debs.PackageRef(name, version) for name, version in data["packages"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    say("resolving Debian package versions")
    kernel_package = debs.resolve_meta_package(KERNEL_META_PACKAGE, KERNEL_PACKAGE_PREFIX)
    packages = debs.resolve_versions([*variant.packages, kernel_package])
    memo.parent.mkdir(parents=True, exist_ok=True)
    partial = memo.with_suffix(f".{os.getpid()}.partial")
    partial.write_text(
        json.dumps({"kernel_package": kernel_package, "packages": [[p.name, p.version] for p in packages]})
    )
    partial.replace(memo)
    return kernel_package, packages


def _build(
    variant: Variant,
    packages: list[debs.PackageRef],
    kernel_package: str,
    digest: str,
    cache: Path,
    image_dir: Path,
    say: Progress,
) -> ReferenceImage:
    started = time.monotonic()
    say(f"downloading {len(packages)} packages: {', '.join(map(str, packages))}")
    deb_files = debs.download(packages, cache / "debs")
    image_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="build-", dir=image_dir.parent) as scratch:
        scratch_dir = Path(scratch)
        staging = scratch_dir / "staging"
        for ref, deb in deb_files.items():
            say(f"unpacking {ref}")
            debs.unpack(deb, staging)
        output = scratch_dir / "image"
        output.mkdir()

        tree = kernel.KernelTree.find(staging)
        kernel_file, boot_kind = _kernel_file(tree, cache, say)
        modules = kernel.module_load_order(variant.network_modules, kernel.module_index(tree.module_dir))
        say(f"network modules in load order: {' '.join(modules)}")

        say("resolving shared libraries from the unpacked packages")
        libraries = resolve_libraries(variant.binaries, staging)
        say(f"libraries: {' '.join(Path(lib).name for lib in libraries)}")

        say("hashing the root password with the packaged openssl")
        password_hash = hash_password(variant.root_password, staging)

        fs = assemble_tree(variant, staging, libraries, tree, modules, password_hash)
        # The update trust anchor goes in; the signing key stays in the cache, outside the image.
        strength = WEAK if variant.has("weak-update-signing") else CURRENT
        identity = create_identity(output / UPDATE_SIGNING_DIR, strength=strength)
        fs.file(UPDATE_TRUST_ANCHOR, identity.ca_certificate.read_bytes())
        size = fs.write_cpio(output / "initrd.cpio")
        appended = evasive.appended_archive(variant.weaknesses)
        if appended:  # the kernel unpacks concatenated archives, each compressed its own way
            with open(output / "initrd.cpio", "ab") as initrd:
                initrd.write(appended)
            say(f"appended a {len(appended)}-byte zstd cpio archive to the initramfs")
        say(f"initramfs: {size / 1e6:.1f} MB uncompressed cpio")
        _link_or_copy(kernel_file, output / kernel_file.name)

        image = ReferenceImage(
            variant=variant.name,
            kernel=image_dir / kernel_file.name,
            initrd=image_dir / "initrd.cpio",
            append=BASE_APPEND,
            digest=digest,
            root=image_dir,
        )
        manifest = {
            "variant": variant.name,
            "weaknesses": sorted(variant.weaknesses),
            "hardenings": sorted(variant.hardenings),
            "firmware_version": variant.firmware_version,
            "kernel": kernel_file.name,
            "kernel_release": tree.release,
            "boot": boot_kind,
            "initrd": "initrd.cpio",
            "append": BASE_APPEND,
            "digest": digest,
            "packages": [str(ref) for ref in packages],
            "kernel_package": kernel_package,
            "modules": modules,
            "libraries": libraries,
            "build_seconds": round(time.monotonic() - started, 2),
        }
        (output / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if image_dir.exists():
            shutil.rmtree(image_dir)
        output.rename(image_dir)
    say(f"built {image_dir} in {time.monotonic() - started:.1f} s")
    return image


def _kernel_file(tree: kernel.KernelTree, cache: Path, say: Progress) -> tuple[Path, str]:
    """The ELF vmlinux for a PVH boot when the kernel supports it, else the bzImage."""
    if tree.config_value("CONFIG_PVH") != "y":
        say("kernel has no CONFIG_PVH: booting the compressed bzImage")
        return tree.vmlinuz, "bzimage"
    extracted = cache / "vmlinux" / f"vmlinux-{tree.release}"
    if extracted.exists():
        return extracted, "pvh"
    say(f"extracting the ELF vmlinux from {tree.vmlinuz.name} for a PVH boot")
    data = kernel.extract_vmlinux(tree.vmlinuz.read_bytes())
    if data is None:
        say("kernel payload compression not supported here: booting the bzImage")
        return tree.vmlinuz, "bzimage"
    extracted.parent.mkdir(parents=True, exist_ok=True)
    partial = extracted.with_suffix(".partial")
    partial.write_bytes(data)
    partial.rename(extracted)
    return extracted, "pvh"


def assemble_tree(
    variant: Variant,
    staging: Path,
    libraries: list[str],
    tree: kernel.KernelTree,
    modules: list[str],
    password_hash: str,
) -> InitramfsTree:
    """The root filesystem: overlay files, binaries, libraries, modules and generated config."""
    fs = InitramfsTree()
    for directory in ("bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev/pts", "tmp", "run"):
        fs.directory(directory)
    fs.directory("root", 0o700)
    fs.directory("tmp", 0o1777)
    fs.directory("etc/dropbear", 0o700)
    fs.directory("var/log")
    fs.char_device("dev/console", 5, 1)
    fs.char_device("dev/null", 1, 3, 0o666)

    for path in sorted(OVERLAY_DIR.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            relative = path.relative_to(OVERLAY_DIR).as_posix()
            data = path.read_bytes()
            fs.file(relative, data, 0o755 if data.startswith(b"#!") else 0o644)

    for binary in (*variant.binaries, *libraries):
        real = resolve_in_root(staging, binary)
        if real is None:
            raise HarnessSetupError(f"{binary} missing from the unpacked packages")
        fs.copy(real, staging / real, 0o755)
        if real != binary:  # keep the package's symlink (e.g. lib64/ld-linux-x86-64.so.2)
            fs.symlink(binary, "/" + real)
    fs.symlink("bin/sh", "busybox")

    openssl_config = resolve_in_root(staging, "etc/ssl/openssl.cnf")
    if openssl_config:
        fs.copy("etc/ssl/openssl.cnf", staging / openssl_config, 0o644)
        fs.symlink("usr/lib/ssl/openssl.cnf", "/etc/ssl/openssl.cnf")

    index = kernel.module_index(tree.module_dir)
    for name in modules:
        fs.copy(f"lib/modules/{name}.ko", index[name], 0o644)
    fs.file("etc/hilsec/modules", "".join(f"{name}\n" for name in modules).encode())

    fs.file("etc/hilsec/device.conf", variant.device_config().encode())
    fs.file("etc/hilsec-release", variant.release_file().encode())
    fs.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
    fs.file("etc/shadow", f"root:{password_hash}:20000:0:99999:7:::\n".encode(), 0o600)
    if variant.has("baked-in-private-key"):
        fs.file(storage.BAKED_KEY_PATH, storage.baked_private_key(), 0o600)
    return fs


def hash_password(password: str, staging: Path) -> str:
    """A SHA-512 crypt hash from `openssl passwd -6` (the packaged openssl, else the host's)."""
    loader = resolve_in_root(staging, "lib64/ld-linux-x86-64.so.2")
    packaged = resolve_in_root(staging, "usr/bin/openssl")
    attempts: list[list[str]] = []
    if loader and packaged:
        library_path = ":".join(str(staging / d) for d in LIBRARY_DIRS)
        attempts.append([str(staging / loader), "--library-path", library_path, str(staging / packaged)])
    if shutil.which("openssl"):
        attempts.append(["openssl"])
    errors = []
    for prefix in attempts:
        try:
            done = subprocess.run(
                [*prefix, "passwd", "-6", "-stdin"],
                input=password + "\n",
                capture_output=True,
                text=True,
                timeout=PASSWORD_HASH_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            errors.append(str(exc))
            continue
        hashed = done.stdout.strip()
        if done.returncode == 0 and hashed.startswith("$6$"):
            return hashed
        errors.append(done.stderr.strip())
    raise HarnessSetupError(f"could not hash the root password with openssl: {'; '.join(errors)}")


def _link_or_copy(source: Path, destination: Path) -> None:
    """A hard link saves a 50 MB copy of the shared vmlinux per image."""
    try:
        os.link(source, destination)
    except OSError:
        shutil.copyfile(source, destination)


def _load_manifest(image_dir: Path) -> ReferenceImage | None:
    manifest = image_dir / MANIFEST
    if not manifest.is_file():
        return None
    try:
        data = json.loads(manifest.read_text())
        image = ReferenceImage(
            variant=data["variant"],
            kernel=image_dir / data["kernel"],
            initrd=image_dir / data["initrd"],
            append=data["append"],
            digest=data["digest"],
            root=image_dir,
        )
    except (ValueError, KeyError):
        return None
    return image if image.kernel.is_file() and image.initrd.is_file() else None


class _cache_lock:
    """An exclusive flock on the cache, so parallel test workers build an image only once."""

    def __init__(self, path: Path, timeout: float = LOCK_TIMEOUT_S) -> None:
        self.path = path
        self.timeout = timeout
        self.handle = None

    def __enter__(self) -> None:
        self.handle = self.path.open("a")
        handle = self.handle
        if not wait_until(lambda: try_flock(handle.fileno()), self.timeout, LOCK_POLL_S):
            handle.close()
            raise HarnessSetupError(f"image cache {self.path} stayed locked {self.timeout:.0f} s")

    def __exit__(self, *exc: object) -> None:
        if self.handle:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()

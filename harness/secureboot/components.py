"""The real Secure Boot chain from Debian: OVMF firmware, signed shim, signed GRUB, signed kernel.

Packages are fetched with `apt-get download` into the image cache's `debs/` folder and unpacked
with `dpkg -x` (harness.emulation.debs); nothing is installed on the host. Debian signs its
`linux-image-*-cloud-amd64` kernels for Secure Boot, so the same kernel the reference image uses
is the signed one here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from harness.emulation import debs
from harness.emulation.builder import default_cache_dir
from harness.emulation.variants import KERNEL_META_PACKAGE, KERNEL_PACKAGE_PREFIX
from harness.errors import HarnessSetupError

SECURE_BOOT_PACKAGES = ("ovmf", "shim-signed", "grub-efi-amd64-signed")
SHIM_PATH = "usr/lib/shim/shimx64.efi.signed"
GRUB_PATH = "usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed"
OVMF_DIR = "usr/share/OVMF"
UNPACKED_MARKER = ".unpacked"
PREPARED_RECORD = "secureboot/prepared.json"


@dataclass(frozen=True)
class BootComponents:
    """Paths of the unpacked, vendor-signed binaries and the firmware folder."""

    shim: Path
    grub: Path
    kernel: Path
    ovmf_dir: Path
    packages: tuple[str, ...]
    root: Path | None = None  # where they are unpacked


def _resolve(cache: Path) -> list[debs.PackageRef]:
    """Exact versions, remembered while apt's state is unchanged (apt-cache costs ~1 s a call)."""
    memo = cache / "resolved" / f"secureboot-{debs.apt_state_fingerprint()[:32]}.json"
    try:
        return [debs.PackageRef(name, version) for name, version in json.loads(memo.read_text())]
    except (OSError, ValueError, TypeError):
        pass
    kernel_package = debs.resolve_meta_package(KERNEL_META_PACKAGE, KERNEL_PACKAGE_PREFIX)
    refs = debs.resolve_versions([*SECURE_BOOT_PACKAGES, kernel_package])
    memo.parent.mkdir(parents=True, exist_ok=True)
    partial = memo.with_suffix(f".{os.getpid()}.partial")
    partial.write_text(json.dumps([[ref.name, ref.version] for ref in refs]))
    partial.replace(memo)
    return refs


def _root(cache: Path, refs: list[debs.PackageRef]) -> Path:
    return cache / "secureboot" / "-".join(f"{ref.name}_{ref.version}" for ref in refs).replace(":", "%3a")


def _prepared(cache: Path) -> tuple[Path, list[str]] | None:
    """The chain `prepare_components` last unpacked (used offline when apt now resolves newer versions)."""
    try:
        record = json.loads((cache / PREPARED_RECORD).read_text())
        root = Path(record["root"])
        return (root, list(record["packages"])) if (root / UNPACKED_MARKER).exists() else None
    except (OSError, ValueError, TypeError, KeyError):
        return None


def fetch_components(cache_dir: Path | None = None) -> BootComponents:
    """Download (once) and unpack (once per version) the Secure Boot chain.

    With downloads disabled (HILSEC_OFFLINE), a chain whose packages are not in the cache is
    replaced by the one `hilsec image prepare` last unpacked, or a HarnessSetupError says to run it.
    """
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    refs = _resolve(cache)
    root = _root(cache, refs)
    packages = list(map(str, refs))
    if not (root / UNPACKED_MARKER).exists():
        if debs.offline() and not all(list((cache / "debs").glob(ref.file_glob)) for ref in refs):
            prepared = _prepared(cache)
            if prepared is None:
                raise HarnessSetupError(
                    f"downloads are disabled ({debs.OFFLINE_ENV}) and the Secure Boot chain is not in "
                    f"the cache {cache}: run `hilsec image prepare` first"
                )
            return _components(*prepared)
        files = debs.download(refs, cache / "debs")
        for ref in refs:
            debs.unpack(files[ref], root)
        (root / UNPACKED_MARKER).write_text("\n".join(packages) + "\n")
    return _components(root, packages)


def prepare_components(cache_dir: Path | None = None) -> BootComponents:
    """Fetch and unpack the chain now (before any run), and remember it for offline runs."""
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    components = fetch_components(cache)
    record = cache / PREPARED_RECORD
    partial = record.with_suffix(f".{os.getpid()}.partial")
    partial.write_text(json.dumps({"root": str(components.root), "packages": list(components.packages)}))
    partial.replace(record)
    return components


def _components(root: Path, packages: list[str]) -> BootComponents:
    kernels = sorted((root / "boot").glob("vmlinuz-*"))
    shim, grub, ovmf = root / SHIM_PATH, root / GRUB_PATH, root / OVMF_DIR
    missing = [str(p) for p in (shim, grub, ovmf) if not p.exists()] + ([] if kernels else ["boot/vmlinuz-*"])
    if missing:
        raise HarnessSetupError(f"the Secure Boot packages lack {', '.join(missing)} (unpacked in {root})")
    return BootComponents(
        shim=shim, grub=grub, kernel=kernels[-1], ovmf_dir=ovmf, packages=tuple(packages), root=root
    )

"""Fetch Debian packages with `apt-get download` and unpack them with `dpkg -x`.

Nothing is installed on the host: packages land in the image cache and are unpacked into a
staging folder. Exact versions are resolved first, so they can be part of the cache key.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessSetupError

# Set (to anything but "" or "0") to forbid downloads: a run then uses only what `hilsec image
# prepare` / `hilsec image build` put in the cache, and names what is missing instead.
OFFLINE_ENV = "HILSEC_OFFLINE"
APT_QUERY_TIMEOUT_S = 60.0
DOWNLOAD_TIMEOUT_S = 600.0
UNPACK_TIMEOUT_S = 300.0


@dataclass(frozen=True, order=True)
class PackageRef:
    """One Debian package at one exact version."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}={self.version}"

    @property
    def file_glob(self) -> str:
        return f"{self.name}_{self.version.replace(':', '%3a')}_*.deb"


def _run(argv: list[str], *, timeout: float, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise HarnessSetupError(f"{argv[0]} not found: the image builder needs apt and dpkg") from exc
    except subprocess.TimeoutExpired as exc:
        raise HarnessSetupError(f"{' '.join(argv)} timed out after {timeout:.0f} s") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise HarnessSetupError(f"{' '.join(argv)} failed ({done.returncode}): {' | '.join(tail)}")
    return done.stdout


def parse_policy(text: str) -> dict[str, str]:
    """Candidate versions from `apt-cache policy` output ("(none)" entries are left out)."""
    candidates: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            current = line[:-1]
        elif current and line.strip().startswith("Candidate:"):
            version = line.split(":", 1)[1].strip()
            if version and version != "(none)":
                candidates[current] = version
    return candidates


def resolve_versions(names: Iterable[str]) -> list[PackageRef]:
    """The version apt would download for each package; names apt does not know are an error."""
    wanted = sorted(set(names))
    candidates = parse_policy(_run(["apt-cache", "policy", *wanted], timeout=APT_QUERY_TIMEOUT_S))
    missing = [name for name in wanted if name not in candidates]
    if missing:
        raise HarnessSetupError(
            f"apt knows no candidate for {', '.join(missing)}; run `apt-get update` first"
        )
    return [PackageRef(name, candidates[name]) for name in wanted]


def resolve_meta_package(meta: str, prefix: str) -> str:
    """The concrete package a meta package depends on, e.g. the kernel behind linux-image-cloud-amd64."""
    text = _run(["apt-cache", "depends", meta], timeout=APT_QUERY_TIMEOUT_S)
    for match in re.finditer(r"^\s*Depends:\s*(\S+)", text, re.MULTILINE):
        if match.group(1).startswith(prefix):
            return match.group(1)
    raise HarnessSetupError(f"{meta} depends on no package starting with {prefix!r}")


APT_STATE_PATHS = (Path("/var/lib/apt/lists"), Path("/etc/apt"), Path("/var/lib/dpkg/status"))


def apt_state_fingerprint(paths: Iterable[Path] = APT_STATE_PATHS) -> str:
    """Changes whenever apt could resolve a different version (new lists, config, installed set).

    apt-cache needs about a second per call where its binary cache is disabled; with this
    fingerprint a warm build can reuse the last resolution without asking apt again.
    """
    digest = hashlib.sha256()
    for root in paths:
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in files:
            try:
                info = path.stat()
            except OSError:
                continue
            if path.is_file():
                digest.update(f"{path}:{info.st_size}:{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def offline() -> bool:
    """Whether downloads are forbidden for this process (HILSEC_OFFLINE)."""
    return os.environ.get(OFFLINE_ENV, "") not in ("", "0")


def download(packages: Iterable[PackageRef], deb_dir: Path) -> dict[PackageRef, Path]:
    """The .deb file of each package, downloading only those not already in deb_dir."""
    deb_dir.mkdir(parents=True, exist_ok=True)
    packages = list(packages)
    missing = [ref for ref in packages if not list(deb_dir.glob(ref.file_glob))]
    if missing and offline():
        raise HarnessSetupError(
            f"downloads are disabled ({OFFLINE_ENV}) and {', '.join(map(str, missing))} "
            f"is not in the cache {deb_dir}: run `hilsec image prepare` first"
        )
    if missing:
        argv = ["apt-get", "download", "-q"]
        if os.geteuid() == 0:
            argv += ["-o", "APT::Sandbox::User=root"]
        _run(argv + [str(ref) for ref in missing], timeout=DOWNLOAD_TIMEOUT_S, cwd=deb_dir)
    files: dict[PackageRef, Path] = {}
    for ref in packages:
        found = sorted(deb_dir.glob(ref.file_glob))
        if not found:
            raise HarnessSetupError(f"apt-get download left no file for {ref} in {deb_dir}")
        files[ref] = found[0]
    return files


def unpack(deb: Path, root: Path) -> None:
    """Extract a package's files (not its scripts) under root."""
    root.mkdir(parents=True, exist_ok=True)
    _run(["dpkg", "-x", str(deb), str(root)], timeout=UNPACK_TIMEOUT_S)

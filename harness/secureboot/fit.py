"""FIT images whose signature must not verify, derived from the device's own signed FIT.

U-Boot's verified boot checks a FIT's configuration signature against a public key in its control
device tree (`required = "conf"`). Three ways an attacker gets an image past a board that does not
check, each made with U-Boot's own tools (u-boot-tools: mkimage, dumpimage; device-tree-compiler:
fdtget, fdtput):
- `unsigned`: the same FIT with every signature node removed;
- `untrusted-key`: the same FIT re-signed (`mkimage -F -k`) with a key the board does not hold,
  under the same key name;
- `tampered-image`: one byte of the first image changed and its hash recomputed (`mkimage -F`
  without keys), the maker's signature kept: only the signature can tell.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessSetupError
from harness.updates.signing import openssl

TOOL_TIMEOUT_S = 60.0
RSA_BITS = "2048"


@dataclass(frozen=True)
class FitVariant:
    name: str
    description: str
    path: Path
    expected_to_boot: bool


def _tool(*argv: str) -> str:
    if shutil.which(argv[0]) is None:
        raise HarnessSetupError(f"{argv[0]} not found (Debian packages u-boot-tools, device-tree-compiler)")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise HarnessSetupError(f"{argv[0]} did not finish within {TOOL_TIMEOUT_S:g} s") from None
    if done.returncode != 0:
        raise ValueError(f"{' '.join(argv[:2])} failed: {(done.stderr or done.stdout).strip()[:300]}")
    return done.stdout


def _nodes(fit: Path, parent: str) -> list[str]:
    return [line.strip() for line in _tool("fdtget", "-l", str(fit), parent).splitlines() if line.strip()]


def signature_nodes(fit: Path) -> list[str]:
    """Every signature node of the FIT's configurations and images."""
    found = []
    for parent in ("/configurations", "/images"):
        for node in _nodes(fit, parent):
            found += [
                f"{parent}/{node}/{sub}"
                for sub in _nodes(fit, f"{parent}/{node}")
                if sub.startswith("signature")
            ]
    return found


def key_names(fit: Path) -> list[str]:
    return sorted({_tool("fdtget", str(fit), node, "key-name-hint").strip() for node in signature_nodes(fit)})


def unsigned(fit: Path, target: Path) -> Path:
    shutil.copyfile(fit, target)
    for node in signature_nodes(target):
        _tool("fdtput", "-r", str(target), node)
    return target


def untrusted_key(fit: Path, target: Path, keydir: Path) -> Path:
    """Re-signed with a fresh RSA key of the harness, named like the maker's."""
    keydir.mkdir(parents=True, exist_ok=True)
    for name in key_names(fit):
        key, cert = keydir / f"{name}.key", keydir / f"{name}.crt"
        if not key.exists():
            openssl(
                "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{RSA_BITS}", "-out", str(key)
            )
            openssl("req", "-batch", "-new", "-x509", "-key", str(key), "-subj", f"/CN=hilsec untrusted {name}",
                    "-out", str(cert))  # fmt: skip
    shutil.copyfile(fit, target)
    _tool("mkimage", "-F", "-k", str(keydir), str(target))
    return target


def tampered_image(fit: Path, target: Path, workdir: Path) -> Path:
    """The first image with one byte changed, its hash recomputed, the maker's signature kept."""
    first = target.with_suffix(".image-0")
    _tool("dumpimage", "-T", "flat_dt", "-p", "0", "-o", str(first), str(fit))
    image = first.read_bytes()
    blob = bytearray(fit.read_bytes())
    start = blob.find(image)
    if not image or start < 0:
        raise ValueError("the FIT's first image is not stored inside the FIT (external data is not handled)")
    blob[start + len(image) // 2] ^= 0xFF
    first.unlink()
    target.write_bytes(bytes(blob))
    _tool("mkimage", "-F", str(target))  # hashes only: no key directory, so no new signature
    return target


def derive_variants(fit: Path, workdir: Path, keydir: Path) -> list[FitVariant]:
    """The device's own FIT (must boot) and the three that must not (`keydir`: the harness's own
    signing keys, kept out of the evidence)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if not signature_nodes(fit):
        raise ValueError(f"{fit.name} carries no signature node: it is not a signed FIT")
    return [
        FitVariant("signed", f"the device's own signed FIT {fit.name}", fit, True),
        FitVariant(
            "unsigned",
            "the same FIT with its signature nodes removed",
            unsigned(fit, workdir / "unsigned.itb"),
            False,
        ),
        FitVariant(
            "untrusted-key",
            "the same FIT re-signed with a key the board does not hold",
            untrusted_key(fit, workdir / "untrusted-key.itb", keydir),
            False,
        ),
        FitVariant(
            "tampered-image",
            "one byte of its first image changed and the hash recomputed, the signature kept",
            tampered_image(fit, workdir / "tampered-image.itb", workdir),
            False,
        ),
    ]

"""Oracles for update packages: read a package's sw-description, verify its signature as a device does.

The harness only builds and delivers packages; whether one is what it claims is the device's
judgement. These helpers let the tests check the crafted and derived packages independently of
that code: sw-description read line by line, the signature checked by the host's openssl CMS
verification (the reference agent's own check).
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import HarnessSetupError
from harness.updates.signing import openssl


def parse_description(text: bytes) -> dict[str, list[str]]:
    """sw-description's key=value lines (a key may repeat, e.g. `file`)."""
    fields: dict[str, list[str]] = {}
    for line in text.decode(errors="replace").splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        fields.setdefault(key.strip(), []).append(value.strip())
    return fields


def cms_verify(content: bytes, signature: bytes, ca_certificate: Path, workdir: Path) -> bool:
    """Whether `signature` over `content` chains to `ca_certificate` (the device's own check)."""
    workdir.mkdir(parents=True, exist_ok=True)
    source, sig = workdir / "verify-content.bin", workdir / "verify.sig"
    source.write_bytes(content)
    sig.write_bytes(signature)
    try:
        openssl(
            "cms", "-verify", "-binary", "-inform", "DER", "-in", str(sig), "-content", str(source),
            "-CAfile", str(ca_certificate), "-purpose", "any", "-out", "/dev/null",
        )  # fmt: skip
        return True
    except HarnessSetupError:
        return False
    finally:
        source.unlink(missing_ok=True)
        sig.unlink(missing_ok=True)

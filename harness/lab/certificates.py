"""The TLS identity of the lab's servers: the lab's own (a bench device pins it), or a throw-away."""

from __future__ import annotations

import hashlib
import ssl
import subprocess
from pathlib import Path

from harness.errors import HarnessSetupError

OPENSSL_TIMEOUT_S = 30


def ensure_lab_certificate(
    workdir: Path, *, certificate: Path | None = None, key: Path | None = None
) -> tuple[Path, Path]:
    """(key, certificate): the lab config's pair when given, else a throw-away ECDSA key and
    self-signed certificate made once in `workdir`."""
    if certificate is not None and key is not None:
        return Path(key), Path(certificate)
    workdir.mkdir(parents=True, exist_ok=True)
    key, cert = workdir / "lab-peer.key", workdir / "lab-peer.crt"
    if not (key.exists() and cert.exists()):
        cmd = [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-subj", "/CN=hilsec-lab-peer", "-days", "30",
        ]  # fmt: skip
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=OPENSSL_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise HarnessSetupError(f"openssl could not make the lab certificate: {err}") from err
        if done.returncode != 0:
            raise HarnessSetupError(f"openssl could not make the lab certificate: {done.stderr.strip()}")
    return key, cert


def certificate_sha256(certificate: Path) -> str:
    """A PEM certificate's SHA-256 fingerprint (upper-case hex), as a device pins it."""
    der = ssl.PEM_cert_to_DER_cert(Path(certificate).read_text())
    return hashlib.sha256(der).hexdigest().upper()

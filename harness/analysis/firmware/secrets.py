"""Secrets in a firmware file's bytes: private keys in every common encoding, API tokens and
pre-shared keys, and which files hold password hashes. Pure functions over bytes (no I/O).

Private keys: PEM (PKCS#1, PKCS#8, SEC1, OpenSSH, encrypted), DER (PKCS#1, PKCS#8, SEC1), the
OpenSSH binary format, Dropbear's own format, PKCS#12 bundles and PuTTY key files, each validated
structurally (not a bare marker string). Tokens: the fixed shapes cloud and forge tokens have,
and literal values assigned to key/token/secret/PSK settings in text files.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from harness.analysis.der import der_element

MAX_TEXT_FILE = 1024 * 1024


@dataclass(frozen=True)
class Finding:
    path: str
    kind: str  # "private-key" | "default-password" | "empty-password" | "shared-secret" | "api-token" | "readable-secret"
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.detail}"


# --- private keys -----------------------------------------------------------------------------

PEM_BLOCK = re.compile(
    rb"-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY)-----\r?\n"
    rb"((?:[A-Za-z0-9+/=:, -]*\r?\n){1,400}?)-----END \1-----"
)
OPENSSH_MAGIC = b"openssh-key-v1\0"
ELF_MAGIC = b"\x7fELF"
# DER starts: SEQUENCE, then INTEGER version 0 (PKCS#1 RSA, PKCS#8) or 1 (SEC1 EC).
DER_START = re.compile(rb"\x30(?:\x82..|\x81.|[\x20-\x7f])\x02\x01[\x00\x01]", re.DOTALL)


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]] | None:
    items, offset = [], start
    while offset < end:
        element = der_element(data, offset)
        if element is None or element[2] > end:
            return None
        items.append(element)
        offset = element[2]
    return items


def der_private_key_kind(data: bytes, offset: int = 0) -> tuple[str, int] | None:
    """('RSA (PKCS#1)' | 'PKCS#8' | 'EC (SEC1)', end offset) if a whole private key starts at offset."""
    outer = der_element(data, offset)
    if outer is None or outer[0] != 0x30:
        return None
    items = _children(data, outer[1], outer[2])
    if not items or items[0][0] != 0x02:
        return None
    version = data[items[0][1] : items[0][2]]
    tags = [tag for tag, _, _ in items]
    if version == b"\x00" and len(items) == 9 and all(t == 0x02 for t in tags):
        return "RSA private key (PKCS#1 DER)", outer[2]
    if version in (b"\x00", b"\x01") and len(items) >= 3 and tags[1] == 0x30 and tags[2] == 0x04:
        algorithm = _children(data, items[1][1], items[1][2])
        if algorithm and algorithm[0][0] == 0x06:
            return "private key (PKCS#8 DER)", outer[2]
    if (
        version == b"\x01"
        and len(items) >= 2
        and tags[1] == 0x04
        and items[1][2] - items[1][1] in (32, 48, 66)
    ):
        return "EC private key (SEC1 DER)", outer[2]
    return None


def _ssh_strings(data: bytes, count: int) -> list[bytes] | None:
    out, offset = [], 0
    for _ in range(count):
        if offset + 4 > len(data):
            return None
        length = int.from_bytes(data[offset : offset + 4], "big")
        if length > len(data) - offset - 4:
            return None
        out.append(data[offset + 4 : offset + 4 + length])
        offset += 4 + length
    return out if offset == len(data) else None


def dropbear_key_kind(data: bytes) -> str | None:
    """Dropbear's own private key format: the whole file is SSH wire strings of one key."""
    if len(data) < 20 or len(data) > 8192:
        return None
    head = _ssh_strings(data[: 4 + int.from_bytes(data[:4], "big")], 1)
    key_type = head[0] if head else b""
    expected = {b"ssh-rsa": 6, b"ssh-dss": 6, b"ssh-ed25519": 2}.get(key_type)
    if key_type.startswith(b"ecdsa-sha2-"):
        expected = 4
    if expected and _ssh_strings(data, expected):
        return f"Dropbear {key_type.decode()} private key"
    return None


def find_private_keys(path: str, data: bytes) -> list[Finding]:
    """Every private key in one file's bytes, each validated structurally (not a bare marker string)."""
    findings: list[Finding] = []
    for match in PEM_BLOCK.finditer(data):
        label = match.group(1).decode()
        body = re.sub(rb"^[A-Za-z-]+: .*$", b"", match.group(2), flags=re.MULTILINE)  # RFC 1421 headers
        try:
            der = base64.b64decode(re.sub(rb"\s", b"", body), validate=True)
        except ValueError:
            continue
        if der.startswith(OPENSSH_MAGIC) or (der[:1] == b"\x30" and len(der) >= 32):
            findings.append(Finding(path, "private-key", f"PEM {label} block at offset {match.start()}"))
    if findings:
        return findings
    if data.startswith(OPENSSH_MAGIC):
        return [Finding(path, "private-key", "OpenSSH private key (binary)")]
    kind = dropbear_key_kind(data)
    if kind:
        return [Finding(path, "private-key", kind)]
    bundles = find_key_bundles(path, data)
    if bundles:
        return bundles
    if data.startswith(ELF_MAGIC):
        return findings  # DER inside programs: test vectors such as `openssl speed`'s public benchmark keys
    for match in DER_START.finditer(data):
        found = der_private_key_kind(data, match.start())
        if found:
            findings.append(Finding(path, "private-key", f"{found[0]} at offset {match.start()}"))
            break  # one is enough to name the file
    return findings


# PKCS#12 (RFC 7292): PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo (id-data or
# id-signedData), ... }; the OID follows the ContentInfo SEQUENCE header.
PKCS12_START = re.compile(
    rb"\x30(?:\x84....|\x83...|\x82..|\x81.|[\x20-\x7f])\x02\x01\x03"
    rb"\x30(?:\x84....|\x83...|\x82..|\x81.|[\x00-\x7f])\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07[\x01\x02]",
    re.DOTALL,
)
PUTTY_KEY = re.compile(rb"^PuTTY-User-Key-File-[23]: [\w-]+\r?\n", re.MULTILINE)


def find_key_bundles(path: str, data: bytes) -> list[Finding]:
    """PKCS#12 bundles (they hold a private key, encrypted or not) and PuTTY private key files."""
    findings = []
    match = PKCS12_START.search(data)
    if match and not data.startswith(ELF_MAGIC):
        findings.append(Finding(path, "private-key", f"PKCS#12 bundle at offset {match.start()}"))
    if PUTTY_KEY.search(data[:4096]):
        findings.append(Finding(path, "private-key", "PuTTY private key file"))
    return findings


# --- shared secrets ---------------------------------------------------------------------------

SECRET_ASSIGNMENT = re.compile(
    r"""^\s*(?:export\s+)?((?:[A-Za-z_][\w.-]*?)?(?:psk|pre[_-]?shared[_-]?key|passphrase|shared[_-]?secret))"""
    r"""\s*[=:]\s*["']?([^\s"'$`]{6,})""",
    re.IGNORECASE | re.MULTILINE,
)
PSK_FILE_SUFFIXES = (".psk",)


def find_shared_secrets(path: str, data: bytes) -> list[Finding]:
    """Pre-shared keys and passphrases written literally in configuration files."""
    if not is_text(data):
        return []
    text = data.decode("utf-8", errors="replace")
    if path.endswith(PSK_FILE_SUFFIXES) and text.strip():
        return [Finding(path, "shared-secret", "pre-shared key file")]
    return [
        Finding(path, "shared-secret", f"{match.group(1)} is set to a literal value")
        for match in SECRET_ASSIGNMENT.finditer(text)
    ]


# Tokens with a fixed, documented shape: worth a finding in any text file.
TOKEN_SHAPES = (
    (re.compile(rb"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "AWS access key ID"),
    (re.compile(rb"\bgh[pousr]_[A-Za-z0-9]{36,}\b"), "GitHub token"),
    (re.compile(rb"\bgithub_pat_[A-Za-z0-9_]{60,}\b"), "GitHub fine-grained token"),
    (re.compile(rb"\bglpat-[A-Za-z0-9_-]{20,}\b"), "GitLab token"),
    (re.compile(rb"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"), "Slack token"),
    (re.compile(rb"\bAIza[0-9A-Za-z_-]{35}\b"), "Google API key"),
    (re.compile(rb"\b[sr]k_live_[0-9A-Za-z]{20,}\b"), "Stripe live key"),
)
TOKEN_ASSIGNMENT = re.compile(
    r"""^\s*(?:export\s+)?["']?((?:[A-Za-z_][\w.-]*?[_.-])?(?:api[_-]?key|api[_-]?token|access[_-]?token|auth[_-]?token|"""
    r"""secret[_-]?key|client[_-]?secret|private[_-]?token|bearer[_-]?token|device[_-]?token))["']?"""
    r"""\s*[=:]\s*["']?([A-Za-z0-9_\-./+=]{16,})""",
    re.IGNORECASE | re.MULTILINE,
)


def is_text(data: bytes) -> bool:
    return b"\0" not in data[:4096] and len(data) <= MAX_TEXT_FILE


def find_api_tokens(path: str, data: bytes) -> list[Finding]:
    """API tokens in text files: the fixed shapes of known services, and literal values of
    settings named like a key or token."""
    if not is_text(data):
        return []
    findings = [
        Finding(path, "api-token", f"{name} at offset {match.start()}")
        for pattern, name in TOKEN_SHAPES
        for match in pattern.finditer(data)
    ][:20]
    text = data.decode("utf-8", errors="replace")
    findings += [
        Finding(path, "api-token", f"{match.group(1)} is set to a literal value")
        for match in TOKEN_ASSIGNMENT.finditer(text)
    ][:20]
    return findings


# --- password files -----------------------------------------------------------------------------

PASSWORD_FILE_NAMES = frozenset(
    ("shadow", "shadow-", "passwd", "passwd-", "gshadow", "gshadow-", "master.passwd")
)
SHADOW_LINE = re.compile(rb"^[A-Za-z_][\w.-]*:(?:\$[0-9a-z]+\$|[./0-9A-Za-z]{13}:)", re.MULTILINE)


def is_password_file(path: str, data: bytes) -> bool:
    """A shadow or passwd file wherever it lies (any rootfs in the image), or any text file with
    shadow-style lines (a backup, a factory default copy)."""
    if not is_text(data):
        return False
    return path.rsplit("/", 1)[-1] in PASSWORD_FILE_NAMES or bool(SHADOW_LINE.search(data))


def parse_shadow(text: str) -> list[tuple[str, str]]:
    """(user, password field) of each shadow (or passwd) line."""
    entries = []
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 2 and parts[0] and not line.startswith("#"):
            entries.append((parts[0], parts[1]))
    return entries

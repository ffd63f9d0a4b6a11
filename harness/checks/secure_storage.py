"""FS38-06: secrets are not readable by unprivileged users, and the firmware image carries none.

Two kinds of evidence, both judged here without touching a device:
- A permission listing from the device (`stat -c '%a %u %g %n'` of each secret file and each of
  its parent folders): a secret that a user other than its owner can read (other-readable with
  every parent traversable, or group-readable by a non-root group) is a finding.
- The firmware image's files, streamed from its cpio archive: PEM, DER (PKCS#1, PKCS#8, SEC1),
  OpenSSH and Dropbear private keys; password hashes whose password is a well-known default;
  pre-shared keys and passphrases in configuration files.
"""

from __future__ import annotations

import base64
import gzip
import re
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAX_SCANNED_FILE = 64 * 1024 * 1024
MAX_TEXT_FILE = 1024 * 1024
OPENSSL_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Finding:
    path: str
    kind: str  # "private-key" | "default-password" | "empty-password" | "shared-secret" | "readable-secret"
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.detail}"


# --- cpio streaming ---------------------------------------------------------------------------

NEWC_MAGICS = (b"070701", b"070702")


def iter_cpio(stream: BinaryIO) -> Iterator[tuple[str, int, bytes]]:
    """(name, mode, data) of each newc/crc entry, read entry by entry up to the trailer."""
    while True:
        header = stream.read(110)
        if len(header) < 110:
            return
        if header[:6] not in NEWC_MAGICS:
            raise ValueError("not a newc cpio archive (bad magic)")
        fields = [int(header[6 + i * 8 : 14 + i * 8], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name = stream.read(namesize)[:-1].decode("utf-8", errors="replace")
        stream.read(-(110 + namesize) % 4)
        if name == "TRAILER!!!":
            return
        data = stream.read(size) if size <= MAX_SCANNED_FILE else _skip(stream, size)
        stream.read(-size % 4)
        yield name, mode, data


def _skip(stream: BinaryIO, size: int) -> bytes:
    while size > 0:
        size -= len(stream.read(min(size, 1 << 20))) or size
    return b""


def open_image(path: Path) -> BinaryIO:
    """The image as an uncompressed stream (gzip-compressed initrds are unpacked on the fly)."""
    handle = path.open("rb")
    magic = handle.read(2)
    handle.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=handle)  # type: ignore[return-value]
    return handle


# --- private keys -----------------------------------------------------------------------------

PEM_BLOCK = re.compile(
    rb"-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY)-----\r?\n"
    rb"((?:[A-Za-z0-9+/=:, -]*\r?\n){1,400}?)-----END \1-----"
)
OPENSSH_MAGIC = b"openssh-key-v1\0"
ELF_MAGIC = b"\x7fELF"
# DER starts: SEQUENCE, then INTEGER version 0 (PKCS#1 RSA, PKCS#8) or 1 (SEC1 EC).
DER_START = re.compile(rb"\x30(?:\x82..|\x81.|[\x20-\x7f])\x02\x01[\x00\x01]", re.DOTALL)


def _der_element(data: bytes, offset: int) -> tuple[int, int, int] | None:
    """(tag, content start, content end) of the DER element at offset, or None if malformed."""
    if offset + 2 > len(data):
        return None
    tag, first = data[offset], data[offset + 1]
    if first < 0x80:
        start, length = offset + 2, first
    else:
        count = first & 0x7F
        if count == 0 or count > 3 or offset + 2 + count > len(data):
            return None
        length = int.from_bytes(data[offset + 2 : offset + 2 + count], "big")
        start = offset + 2 + count
    end = start + length
    return (tag, start, end) if end <= len(data) else None


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]] | None:
    items, offset = [], start
    while offset < end:
        element = _der_element(data, offset)
        if element is None or element[2] > end:
            return None
        items.append(element)
        offset = element[2]
    return items


def der_private_key_kind(data: bytes, offset: int = 0) -> tuple[str, int] | None:
    """('RSA (PKCS#1)' | 'PKCS#8' | 'EC (SEC1)', end offset) if a whole private key starts at offset."""
    outer = _der_element(data, offset)
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
    if data.startswith(ELF_MAGIC):
        return findings  # DER inside programs: test vectors such as `openssl speed`'s public benchmark keys
    for match in DER_START.finditer(data):
        found = der_private_key_kind(data, match.start())
        if found:
            findings.append(Finding(path, "private-key", f"{found[0]} at offset {match.start()}"))
            break  # one is enough to name the file
    return findings


# --- passwords --------------------------------------------------------------------------------

CRYPT_SCHEMES = {"1": "-1", "5": "-5", "6": "-6", "apr1": "-apr1"}
CRYPT_HASH = re.compile(r"^\$(1|5|6|apr1)\$(?:rounds=\d+\$)?([^$]*)\$[./A-Za-z0-9]+$")
Hasher = Callable[[str, str, Sequence[str]], list[str]]


def parse_shadow(text: str) -> list[tuple[str, str]]:
    """(user, password field) of each shadow (or passwd) line."""
    entries = []
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 2 and parts[0] and not line.startswith("#"):
            entries.append((parts[0], parts[1]))
    return entries


def openssl_crypt(scheme: str, salt: str, passwords: Sequence[str]) -> list[str]:
    """crypt(3)-compatible hashes of each password with one salt, from `openssl passwd`."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl is needed to compare password hashes")
    done = subprocess.run(
        [openssl, "passwd", CRYPT_SCHEMES[scheme], "-salt", salt, "-stdin"],
        input="".join(p + "\n" for p in passwords),
        capture_output=True,
        text=True,
        timeout=OPENSSL_TIMEOUT_S,
        check=True,
    )
    return done.stdout.splitlines()


def weak_password_findings(
    path: str, text: str, credentials: Iterable[tuple[str, str]], hasher: Hasher = openssl_crypt
) -> list[Finding]:
    """Accounts whose hash is of a well-known default password (any user's), or that have none."""
    passwords = sorted({password for _, password in credentials if password})
    findings = []
    for user, field in parse_shadow(text):
        if field == "":
            findings.append(Finding(path, "empty-password", f"{user} has an empty password"))
            continue
        match = CRYPT_HASH.match(field)
        if not match or not passwords:
            continue  # locked ("!", "*"), "x" in passwd, or a scheme openssl cannot compute
        if "rounds=" in field:
            continue
        computed = hasher(match.group(1), match.group(2), passwords)
        for password, candidate in zip(passwords, computed, strict=False):
            if candidate == field:
                findings.append(
                    Finding(
                        path, "default-password", f"{user}'s password hash is of the default {password!r}"
                    )
                )
                break
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
    if b"\0" in data[:4096] or len(data) > MAX_TEXT_FILE:
        return []
    text = data.decode("utf-8", errors="replace")
    if path.endswith(PSK_FILE_SUFFIXES) and text.strip():
        return [Finding(path, "shared-secret", "pre-shared key file")]
    return [
        Finding(path, "shared-secret", f"{match.group(1)} is set to a literal value")
        for match in SECRET_ASSIGNMENT.finditer(text)
    ]


# --- the whole image --------------------------------------------------------------------------

PASSWORD_FILES = ("etc/shadow", "etc/passwd", "etc/gshadow")


@dataclass
class ImageScan:
    files: int
    bytes: int
    findings: list[Finding]

    def of_kind(self, *kinds: str) -> list[Finding]:
        return [f for f in self.findings if f.kind in kinds]


def scan_image(
    stream: BinaryIO, credentials: Iterable[tuple[str, str]], hasher: Hasher = openssl_crypt
) -> ImageScan:
    """Stream a cpio image and report every private key, default password and shared secret."""
    credentials = list(credentials)
    files = total = 0
    findings: list[Finding] = []
    for name, mode, data in iter_cpio(stream):
        if not stat.S_ISREG(mode):
            continue
        files += 1
        total += len(data)
        path = "/" + name.lstrip("./")
        findings += find_private_keys(path, data)
        findings += find_shared_secrets(path, data)
        if name.lstrip("./") in PASSWORD_FILES:
            findings += weak_password_findings(
                path, data.decode("utf-8", errors="replace"), credentials, hasher
            )
    return ImageScan(files=files, bytes=total, findings=findings)


# --- permissions on the device ----------------------------------------------------------------

SECRET_NAME_PATTERNS = (
    "shadow",
    "gshadow",
    "*_host_key",
    "*.key",
    "*.psk",
    "id_rsa",
    "id_ecdsa",
    "id_ed25519",
)


@dataclass(frozen=True)
class PathMode:
    mode: int
    uid: int
    gid: int
    path: str


def parse_stat_lines(text: str) -> dict[str, PathMode]:
    """Lines of `stat -c '%a %u %g %n'`, keyed by path."""
    entries: dict[str, PathMode] = {}
    for line in text.splitlines():
        parts = line.strip().split(" ", 3)
        if (
            len(parts) == 4
            and re.fullmatch(r"[0-7]{3,4}", parts[0])
            and parts[1].isdigit()
            and parts[2].isdigit()
        ):
            entries[parts[3]] = PathMode(int(parts[0], 8), int(parts[1]), int(parts[2]), parts[3])
    return entries


def _parents(path: str) -> list[str]:
    parts = path.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def readable_secret_findings(secrets: Iterable[str], modes: dict[str, PathMode]) -> list[Finding]:
    """Secrets that an unprivileged user (not the owner, not in a root group) can read."""
    findings = []
    for path in sorted(set(secrets)):
        entry = modes.get(path)
        if entry is None:
            continue
        parents = [modes.get(p) for p in _parents(path)]
        traversable_by_others = all(p is None or p.mode & 0o001 for p in parents)
        if entry.mode & 0o004 and traversable_by_others:
            findings.append(
                Finding(path, "readable-secret", f"readable by every user (mode {entry.mode:04o})")
            )
        elif entry.mode & 0o040 and entry.gid != 0:
            findings.append(
                Finding(path, "readable-secret", f"readable by group {entry.gid} (mode {entry.mode:04o})")
            )
        elif entry.uid != 0 and entry.mode & 0o400:
            findings.append(
                Finding(
                    path, "readable-secret", f"owned by unprivileged user {entry.uid} (mode {entry.mode:04o})"
                )
            )
    return findings


def device_listing_command() -> str:
    """A POSIX shell command printing each secret file (`SECRET path`) and stat lines of it and its parents."""
    names = " -o ".join(f"-name '{pattern}'" for pattern in SECRET_NAME_PATTERNS)
    return (
        "{ find / -xdev -type f \\( " + names + " \\) 2>/dev/null; "
        "grep -rlsE -- '-----BEGIN [A-Z ]*PRIVATE KEY-----' /etc /root /home /var /opt /data 2>/dev/null; } "
        '| sort -u | while read -r f; do echo "SECRET $f"; d=$f; '
        'while [ "$d" != / ] && [ -n "$d" ]; do stat -c \'%a %u %g %n\' "$d"; d=$(dirname "$d"); done; done'
    )


def parse_device_listing(text: str) -> tuple[list[str], dict[str, PathMode]]:
    """(secret paths, stat entries) from the output of `device_listing_command()`."""
    secrets = [line[len("SECRET ") :].strip() for line in text.splitlines() if line.startswith("SECRET ")]
    return secrets, parse_stat_lines(text)

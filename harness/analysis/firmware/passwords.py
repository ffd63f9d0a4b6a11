"""Is a password hash found in an image the hash of a well-known default password?

Hashes are recomputed with the hash's own salt and parameters: by the system's libcrypt (glibc's
libxcrypt: yescrypt, bcrypt, SHA-crypt with rounds, MD5, DES, ...) and, for what it lacks (Apache
$apr1$), `openssl passwd`. A hash neither can recompute is reported as unchecked, never as safe.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Sequence
from functools import cache

from harness.analysis.firmware.secrets import Finding, parse_shadow

OPENSSL_TIMEOUT_S = 30.0
OPENSSL_SCHEMES = {"1": "-1", "5": "-5", "6": "-6", "apr1": "-apr1"}
CRYPT_HASH = re.compile(r"^\$(1|5|6|apr1)\$(?:rounds=\d+\$)?([^$]*)\$[./A-Za-z0-9]+$")
LOCKED = re.compile(r"^[!*x]|^$")
# Hasher(hash field, candidate passwords) -> the password whose hash equals it, "" if none, None if
# the scheme cannot be computed here.
Hasher = Callable[[str, Sequence[str]], "str | None"]


def openssl_crypt(scheme: str, salt: str, passwords: Sequence[str]) -> list[str]:
    """crypt(3)-compatible hashes of each password with one salt, from `openssl passwd`."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl is needed to compare password hashes")
    done = subprocess.run(
        [openssl, "passwd", OPENSSL_SCHEMES[scheme], "-salt", salt, "-stdin"],
        input="".join(p + "\n" for p in passwords),
        capture_output=True,
        text=True,
        timeout=OPENSSL_TIMEOUT_S,
        check=True,
    )
    return done.stdout.splitlines()


@cache
def _libcrypt() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("crypt")
    if not name:
        return None
    try:
        library = ctypes.CDLL(name)
    except OSError:
        return None
    library.crypt.restype = ctypes.c_char_p
    library.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    return library


def libcrypt_hash(password: str, setting: str) -> str | None:
    """crypt(3) of `password` with `setting` (a whole hash works as its own setting); None when
    libcrypt is missing or does not know the scheme."""
    library = _libcrypt()
    if library is None:
        return None
    result = library.crypt(password.encode(), setting.encode())
    if not result or result.startswith(b"*"):
        return None
    return result.decode("ascii", errors="replace")


def matching_password(field: str, passwords: Sequence[str]) -> str | None:
    """The candidate whose hash is `field`, "" if none matches, None if it cannot be computed."""
    if libcrypt_hash("probe", field) is not None:
        for password in passwords:
            if libcrypt_hash(password, field) == field:
                return password
        return ""
    match = CRYPT_HASH.match(field)
    if match and "rounds=" not in field and shutil.which("openssl"):
        for password, candidate in zip(
            passwords, openssl_crypt(match.group(1), match.group(2), passwords), strict=False
        ):
            if candidate == field:
                return password
        return ""
    return None


def weak_password_findings(
    path: str, text: str, credentials: Iterable[tuple[str, str]], hasher: Hasher = matching_password
) -> tuple[list[Finding], list[str]]:
    """(findings, unchecked): accounts of any name whose hash is of a well-known default password
    (any user's), or that have none; and hashes whose scheme could not be recomputed."""
    passwords = sorted({password for _, password in credentials if password})
    findings, unchecked = [], []
    for user, field in parse_shadow(text):
        if field == "":
            findings.append(Finding(path, "empty-password", f"{user} has an empty password"))
            continue
        if LOCKED.match(field) or not field.startswith("$") and len(field) != 13:
            continue  # locked ("!", "*"), "x" in passwd: no password to guess
        if not passwords:
            continue
        found = hasher(field, passwords)
        if found is None:
            scheme = field.split("$")[1] if field.startswith("$") else "DES"
            unchecked.append(
                f"{path}: {user}'s password hash (scheme {scheme!r}) could not be recomputed here"
            )
        elif found:
            findings.append(
                Finding(path, "default-password", f"{user}'s password hash is of the default {found!r}")
            )
    return findings, unchecked

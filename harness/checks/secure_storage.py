"""FS38-06: secrets are not readable by unprivileged users, and the firmware image carries none.

Two kinds of evidence, both judged here without touching a device:
- A permission listing from the device (`stat -c '%a %u %g %n'` of each secret file and each of
  its parent folders): a secret that a user other than its owner can read (other-readable with
  every parent traversable, or group-readable by a non-root group) is a finding.
- The scan of every file of every part of the firmware image (harness.analysis.firmware): private
  keys in any encoding, password hashes of any account whose password is a well-known default,
  pre-shared keys and API tokens; a part that could not be read leaves the verdict INCONCLUSIVE.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from harness.analysis.firmware import ImageScan
from harness.analysis.firmware.secrets import Finding
from harness.results.outcome import Measurement, Outcome

# --- the firmware image -------------------------------------------------------------------------

IMAGE_SECRET_KINDS = {
    "private-key": "private keys",
    "default-password": "hard-coded default passwords",
    "empty-password": "hard-coded default passwords",
    "shared-secret": "shared secrets",
    "api-token": "shared secrets",
}


def judge_image_scan(scan: ImageScan | None, problem: str, kinds: Iterable[str]) -> Outcome:
    """FAIL on any finding of `kinds`; INCONCLUSIVE when the image (or any part of it, or a
    password hash) could not be read; PASS only when every part was read and nothing was found."""
    chosen = tuple(kinds)
    if scan is None:
        return Outcome.inconclusive(problem, [problem])
    found = [str(f) for f in scan.of_kind(*chosen)]
    what = IMAGE_SECRET_KINDS[chosen[0]]
    missing = [f"image part not read: {part}" for part in scan.unreadable]
    if any(kind in ("default-password", "empty-password") for kind in chosen):
        missing += scan.unchecked
    return Outcome.from_findings(
        [f"{what} in the firmware image: {item}" for item in found],
        missing=missing,
        passed=f"no {what} in {scan.files} files ({scan.bytes} bytes) of {len(scan.parts)} image part(s)",
        judged=scan.files > 0,
        nothing_judged="the firmware image holds no file to scan",
        measurements=(
            Measurement("files scanned", scan.files),
            Measurement("bytes scanned", scan.bytes, "bytes"),
        ),
        details={"parts": scan.parts, "unreadable": scan.unreadable},
    )


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


def judge_secret_permissions(secrets: Iterable[str], modes: dict[str, PathMode]) -> Outcome:
    """FAIL naming each secret an unprivileged user (not the owner, not in a root group) can read;
    INCONCLUSIVE when the listing found no secret (it proves nothing) or lacks a secret's
    permissions. The details list the secrets judged and the readable ones."""
    listed = list(secrets)
    if not listed:
        return Outcome.inconclusive(
            "no secret file found on the device (not even /etc/shadow): the listing proves nothing",
            ["a secret file in the device's listing"],
        )
    unlisted = [path for path in listed if path not in modes]
    if unlisted:
        return Outcome.inconclusive(
            "the device printed no permissions for " + ", ".join(unlisted) + " (stat missing?)",
            [f"the permissions of {path}" for path in unlisted],
        )
    found = _readable_secrets(listed, modes)
    details = {"secrets": sorted(set(listed)), "readable": [asdict(f) for f in found]}
    if found:
        return Outcome.failed(
            [str(f) for f in found],
            "secrets readable by unprivileged users: " + "; ".join(map(str, found)),
            details=details,
        )
    return Outcome.passed(
        f"{len(details['secrets'])} secret file(s) readable by no unprivileged user: "
        + ", ".join(details["secrets"]),
        details=details,
    )


def _readable_secrets(secrets: Iterable[str], modes: dict[str, PathMode]) -> list[Finding]:
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

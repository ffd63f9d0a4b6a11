"""Scan every file of a firmware image for secrets: private keys, default or empty passwords of
any account, pre-shared keys and API tokens. What could not be read is kept by name."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harness.analysis.firmware.passwords import Hasher, matching_password, weak_password_findings
from harness.analysis.firmware.secrets import (
    MAX_TEXT_FILE,
    Finding,
    find_api_tokens,
    find_private_keys,
    find_shared_secrets,
    is_password_file,
)
from harness.analysis.firmware.unpack import (
    DEFAULT_UNPACK_LIMITS,
    SCAN_OVERLAP,
    SCAN_WINDOW,
    ImageFile,
    Unpacker,
    UnpackLimits,
)

MAX_FINDINGS_PER_FILE = 20


@dataclass
class ImageScan:
    files: int
    bytes: int
    findings: list[Finding]
    parts: list[str] = field(default_factory=list)  # every part read, with its format
    unreadable: list[str] = field(default_factory=list)  # parts that could not be read: scan incomplete
    unchecked: list[str] = field(default_factory=list)  # password hashes that could not be recomputed

    def of_kind(self, *kinds: str) -> list[Finding]:
        return [f for f in self.findings if f.kind in kinds]


def scan_file(
    file: ImageFile, credentials: list[tuple[str, str]], hasher: Hasher
) -> tuple[list[Finding], list[str]]:
    """Findings and unchecked hashes of one file; big files are read in overlapping windows."""
    findings: list[Finding] = []
    unchecked: list[str] = []
    with file.open() as stream:
        if file.size <= SCAN_WINDOW:
            data = stream.read()
            findings += find_private_keys(file.path, data)
            findings += find_shared_secrets(file.path, data)
            findings += find_api_tokens(file.path, data)
            if len(data) <= MAX_TEXT_FILE and is_password_file(file.path, data):
                found, unchecked = weak_password_findings(
                    file.path, data.decode("utf-8", errors="replace"), credentials, hasher
                )
                findings += found
        else:
            tail = b""
            seen: set[str] = set()
            while True:
                chunk = stream.read(SCAN_WINDOW)
                if not chunk:
                    break
                window = tail + chunk
                for finding in find_private_keys(file.path, window):
                    kind = finding.detail.split(" at offset")[0]
                    if kind not in seen:
                        seen.add(kind)
                        findings.append(finding)
                tail = window[-SCAN_OVERLAP:]
    return findings[:MAX_FINDINGS_PER_FILE], unchecked


def scan_firmware(
    image: Path,
    credentials: Iterable[tuple[str, str]],
    *,
    limits: UnpackLimits = DEFAULT_UNPACK_LIMITS,
    hasher: Hasher = matching_password,
    workdir: Path | None = None,
) -> ImageScan:
    """Unpack `image` part by part (harness.analysis.firmware.unpack) and scan every file."""
    pairs = list(credentials)
    unpacker = Unpacker(limits, workdir)
    scan = ImageScan(files=0, bytes=0, findings=[])
    for file in unpacker.files(Path(image)):
        scan.files += 1
        scan.bytes += file.size
        found, unchecked = scan_file(file, pairs, hasher)
        scan.findings += found
        scan.unchecked += unchecked
    scan.parts = [part.name for part in unpacker.parts]
    scan.unreadable = list(unpacker.unreadable)
    return scan

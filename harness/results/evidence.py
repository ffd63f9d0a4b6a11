"""Where a test leaves its evidence: one folder per test under REPORT_DIR/evidence/."""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from harness.results.redact import redact_file, redact_text

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


EVIDENCE_DIR = "evidence"
_NOT_IN_PATHS = re.compile(r"[\x00-\x1f\x7f\\]")


def evidence_path_problem(rel: str) -> str | None:
    """Why `rel` cannot name an evidence file, or None: evidence paths are relative POSIX paths
    under evidence/, without '..', backslashes or control characters (results.json is input to
    `hilsec report` and may have been edited)."""
    posix = PurePosixPath(rel)
    if not rel or posix.is_absolute():
        return "is absolute" if rel else "is empty"
    if ".." in posix.parts:
        return "leaves the report directory ('..')"
    if _NOT_IN_PATHS.search(rel):
        return "holds a backslash or a control character"
    if posix.parts[0] != EVIDENCE_DIR or len(posix.parts) < 2:
        return f"is not under {EVIDENCE_DIR}/"
    return None


def evidence_file(report_dir: Path, rel: str) -> Path | None:
    """The regular file `rel` names inside REPORT_DIR/evidence/, or None when there is none or
    it would be read through a symlink (one placed in evidence/ must not inline its target)."""
    if evidence_path_problem(rel) is not None:
        return None
    path = Path(report_dir, *PurePosixPath(rel).parts)
    current = Path(report_dir)
    for part in PurePosixPath(rel).parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except OSError:
            return None
        if stat.S_ISLNK(mode):
            return None
    return path if stat.S_ISREG(mode) else None


def open_evidence(report_dir: Path, rel: str):  # noqa: ANN201 - a binary file object
    """Open an evidence file for reading, refusing a symlink swapped in after the check."""
    path = evidence_file(report_dir, rel)
    if path is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")


def slug(nodeid: str) -> str:
    """A file-system-safe folder name for a test's node ID."""
    name = nodeid.replace("::", "__").replace("/", "_")
    return _UNSAFE.sub("-", name).strip("-")[:150] or "test"


@dataclass
class Evidence:
    """The evidence folder of one test; what lands here is listed in the report and hashed."""

    report_dir: Path
    nodeid: str
    secrets: list[str] = field(default_factory=list, repr=False)

    @property
    def dir(self) -> Path:
        path = self.report_dir / "evidence" / slug(self.nodeid)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def path(self, name: str) -> Path:
        """A path inside this test's folder for a file a component will write (pcap, transcript)."""
        return self.dir / name

    def write_text(self, name: str, text: str) -> Path:
        path = self.path(name)
        path.write_text(redact_text(text, self.secrets), encoding="utf-8")
        return path

    def write_json(self, name: str, data: Any) -> Path:
        return self.write_text(name, json.dumps(data, indent=2, default=str) + "\n")

    def copy(self, source: Path, name: str | None = None) -> Path:
        """Copy `source` in with every secret overwritten (by as many `*`, so a pcap stays a pcap)."""
        target = self.path(name or Path(source).name)
        redact_file(source, target, self.secrets)
        return target

    def files(self) -> list[str]:
        """Every file of this test, relative to the report directory, sorted."""
        folder = self.report_dir / "evidence" / slug(self.nodeid)
        if not folder.is_dir():
            return []
        return sorted(str(p.relative_to(self.report_dir)) for p in folder.rglob("*") if p.is_file())

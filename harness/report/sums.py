"""evidence/SHA256SUMS: a checksum per evidence file, so a reviewer can prove nothing changed.

The file is in GNU coreutils format, paths relative to evidence/ and sorted, so
`cd evidence && sha256sum -c SHA256SUMS` verifies it without hilsec.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from harness.results.evidence import evidence_file
from harness.util.files import write_atomically

SUMS_NAME = "SHA256SUMS"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class SumProblem:
    """One way the evidence disagrees with SHA256SUMS."""

    path: str
    problem: str  # "modified" | "missing" | "not listed" | "malformed line"

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def evidence_files(evidence_dir: Path) -> list[str]:
    """Every regular file under evidence/ except SHA256SUMS, as sorted POSIX relative paths."""
    if not evidence_dir.is_dir():
        return []
    found = [
        path.relative_to(evidence_dir).as_posix()
        for path in evidence_dir.rglob("*")
        if path.is_file() and not path.is_symlink()
    ]
    return sorted(p for p in found if p != SUMS_NAME)


def write_sha256sums(report_dir: Path) -> Path:
    """Write REPORT_DIR/evidence/SHA256SUMS (an empty file when there is no evidence)."""
    evidence_dir = Path(report_dir) / "evidence"
    evidence_dir.mkdir(parents=True, exist_ok=True)
    lines = [format_line(sha256_file(evidence_dir / rel), rel) for rel in evidence_files(evidence_dir)]
    return write_atomically(evidence_dir / SUMS_NAME, "".join(lines))


def verify_sha256sums(report_dir: Path) -> list[SumProblem]:
    """Compare evidence/ with its SHA256SUMS; an empty list means every file is listed and intact."""
    evidence_dir = Path(report_dir) / "evidence"
    sums_path = evidence_dir / SUMS_NAME
    if not sums_path.is_file():
        return [SumProblem(f"evidence/{SUMS_NAME}", "missing")]
    listed: dict[str, str] = {}
    problems: list[SumProblem] = []
    for number, line in enumerate(sums_path.read_text(encoding="utf-8").splitlines(), start=1):
        parsed = parse_line(line)
        if parsed is None:
            problems.append(SumProblem(f"{SUMS_NAME}:{number}", "malformed line"))
            continue
        listed[parsed[1]] = parsed[0]
    for rel, expected in listed.items():
        path = evidence_dir / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute() or not path.is_file():
            problems.append(SumProblem(rel, "missing"))
        elif evidence_file(Path(report_dir), f"evidence/{rel}") is None:
            problems.append(SumProblem(rel, "a symlink, not evidence"))
        elif sha256_file(path) != expected:
            problems.append(SumProblem(rel, "modified"))
    unlisted = [rel for rel in evidence_files(evidence_dir) if rel not in listed]
    problems.extend(SumProblem(rel, "not listed") for rel in unlisted)
    return problems


def format_line(digest: str, rel: str) -> str:
    # GNU sha256sum escapes backslash and newline in names and marks such lines with a leading "\".
    if "\\" in rel or "\n" in rel or "\r" in rel:
        escaped = rel.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
        return f"\\{digest}  {escaped}\n"
    return f"{digest}  {rel}\n"


def parse_line(line: str) -> tuple[str, str] | None:
    escaped = line.startswith("\\")
    if escaped:
        line = line[1:]
    digest, sep, rel = line.partition("  ")
    if not sep:
        digest, sep, rel = line.partition(" *")  # binary-mode marker
    if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest.lower()) or not rel:
        return None
    if escaped:
        rel = _unescape(rel)
    return digest.lower(), rel


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append({"n": "\n", "r": "\r", "\\": "\\"}.get(text[i + 1], text[i + 1]))
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)

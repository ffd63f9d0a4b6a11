"""Where a test leaves its evidence: one folder per test under REPORT_DIR/evidence/."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.results.redact import redact_text

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


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
        target = self.path(name or source.name)
        shutil.copyfile(source, target)
        return target

    def files(self) -> list[str]:
        """Every file of this test, relative to the report directory, sorted."""
        folder = self.report_dir / "evidence" / slug(self.nodeid)
        if not folder.is_dir():
            return []
        return sorted(str(p.relative_to(self.report_dir)) for p in folder.rglob("*") if p.is_file())

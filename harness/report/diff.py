"""Compare two runs: which requirement verdicts changed between firmware versions or lab days.

Inputs are results.json files (or their report directories, dicts, or RunResults), so a lab can
diff any two archived reports without re-running anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from harness.errors import ConfigError
from harness.results.model import ResultFormatError, RunResult
from harness.results.verdicts import Verdict
from harness.util.text import one_line

RunSource = RunResult | dict | str | Path


@dataclass(frozen=True)
class VerdictChange:
    id: str
    title: str
    old: Verdict | None  # None: the requirement was not in the old run
    new: Verdict | None  # None: the requirement is not in the new run

    @property
    def kind(self) -> str:
        """ "regression" (now FAIL), "fixed" (FAIL to PASS), "added", "removed" or "changed"."""
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        if self.new is Verdict.FAIL:
            return "regression"
        if self.old is Verdict.FAIL and self.new is Verdict.PASS:
            return "fixed"
        return "changed"


@dataclass
class RunDiff:
    old_device: dict
    new_device: dict
    old_started: str
    new_started: str
    changes: list[VerdictChange] = field(default_factory=list)
    unchanged: int = 0

    @property
    def regressions(self) -> list[VerdictChange]:
        return [c for c in self.changes if c.kind == "regression"]

    def to_text(self) -> str:
        """A plain-text summary, one line per changed requirement."""
        lines = [
            f"old: {_identity(self.old_device)} started {self.old_started}",
            f"new: {_identity(self.new_device)} started {self.new_started}",
        ]
        if not self.changes:
            lines.append(f"no requirement verdict changed ({self.unchanged} compared)")
            return "\n".join(one_line(line) for line in lines) + "\n"
        width = max(len(c.id) for c in self.changes)
        for change in self.changes:
            old = change.old.value if change.old else "-"
            new = change.new.value if change.new else "-"
            lines.append(f"{change.id:<{width}}  {old} -> {new}  [{change.kind}]  {change.title}")
        lines.append(
            f"{len(self.changes)} changed ({len(self.regressions)} regressions), {self.unchanged} unchanged"
        )
        return "\n".join(one_line(line) for line in lines) + "\n"

    def to_html(self) -> str:
        """A self-contained HTML page (inline CSS) with the same content as to_text()."""
        env = jinja2.Environment(
            loader=jinja2.PackageLoader("harness.report", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        return env.get_template("diff.html.j2").render(diff=self, identity=_identity)


def diff_runs(old_results_json: RunSource, new_results_json: RunSource) -> RunDiff:
    """Requirement verdicts that differ between two runs, in the new run's order, removed ones last."""
    old, new = _load(old_results_json), _load(new_results_json)
    old_by_id = {r.id: r for r in old.requirements}
    new_ids = {r.id for r in new.requirements}
    changes: list[VerdictChange] = []
    unchanged = 0
    for req in new.requirements:
        before = old_by_id.get(req.id)
        if before is None:
            changes.append(VerdictChange(req.id, req.title, None, req.verdict))
        elif before.verdict is req.verdict:
            unchanged += 1
        else:
            changes.append(VerdictChange(req.id, req.title, before.verdict, req.verdict))
    changes.extend(
        VerdictChange(r.id, r.title, r.verdict, None) for r in old.requirements if r.id not in new_ids
    )
    return RunDiff(old.device, new.device, old.started, new.started, changes, unchanged)


def _load(source: RunSource) -> RunResult:
    if isinstance(source, RunResult):
        return source
    if isinstance(source, dict):
        return RunResult.from_json(source)
    path = Path(source)
    if path.is_dir():
        path = path / "results.json"
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return RunResult.from_json(data)
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found", "a results.json written by hilsec") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(path, "", f"cannot be read as JSON ({error})", "a results.json") from None
    except ResultFormatError as error:
        raise ConfigError(path, error.field, error.problem, "a results.json written by hilsec") from None


def _identity(device: dict) -> str:
    name = device.get("name") or "device"
    firmware = device.get("firmware_version")
    return f"{name} (firmware {firmware})" if firmware else str(name)

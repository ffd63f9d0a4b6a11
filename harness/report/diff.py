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
from harness.results.consistency import rollup_problems
from harness.results.model import ResultFormatError, RunResult, runs_from_json
from harness.results.verdicts import Verdict
from harness.util.text import one_line

RunSource = RunResult | list | dict | str | Path


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
    """Requirement verdicts that differ between two runs, in the new run's order, removed ones last.

    Pool runs are compared device by device (by name); their changes read "DEVICE: ID".
    """
    old_runs, new_runs = _load(old_results_json), _load(new_results_json)
    for source, runs in ((old_results_json, old_runs), (new_results_json, new_runs)):
        problems = [line for run in runs for line in rollup_problems(run)]
        if problems:
            where = source if isinstance(source, str | Path) else "results"
            raise ConfigError(where, "requirements", problems[0], "verdicts rolled up from the tests")
    pooled = len(old_runs) > 1 or len(new_runs) > 1
    old_rows, new_rows = _rows(old_runs, pooled), _rows(new_runs, pooled)
    changes: list[VerdictChange] = []
    unchanged = 0
    for key, req in new_rows.items():
        before = old_rows.get(key)
        if before is None:
            changes.append(VerdictChange(key, req.title, None, req.verdict))
        elif before.verdict is req.verdict:
            unchanged += 1
        else:
            changes.append(VerdictChange(key, req.title, before.verdict, req.verdict))
    changes.extend(
        VerdictChange(k, r.title, r.verdict, None) for k, r in old_rows.items() if k not in new_rows
    )
    old, new = old_runs[0], new_runs[0]
    old_device = old.device if len(old_runs) == 1 else _pool_identity(old_runs)
    new_device = new.device if len(new_runs) == 1 else _pool_identity(new_runs)
    return RunDiff(old_device, new_device, old.started, new.started, changes, unchanged)


def _rows(runs: list[RunResult], pooled: bool) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for run in runs:
        prefix = f"{run.device.get('name', '')}: " if pooled else ""
        for req in run.requirements:
            rows[prefix + req.id] = req
    return rows


def _pool_identity(runs: list[RunResult]) -> dict:
    return {"name": "pool of " + ", ".join(str(r.device.get("name", "")) for r in runs)}


def _load(source: RunSource) -> list[RunResult]:
    if isinstance(source, RunResult):
        return [source]
    if isinstance(source, list):
        return list(source)
    if isinstance(source, dict):
        return runs_from_json(source)
    path = Path(source)
    if path.is_dir():
        path = path / "results.json"
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return runs_from_json(data)
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

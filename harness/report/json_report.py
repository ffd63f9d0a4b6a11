"""results.json: the machine-readable record every other format can be re-rendered from."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path

from harness.results.model import RunResult, as_runs, runs_to_json

RESULTS_NAME = "results.json"
SCHEMA_NAME = "results.schema.json"


def write_json(run: RunResult | Sequence[RunResult], report_dir: Path) -> Path:
    """Write REPORT_DIR/results.json (UTF-8, indented, stable key order): a pool's device runs as a list."""
    target = Path(report_dir) / RESULTS_NAME
    text = json.dumps(runs_to_json(as_runs(run)), indent=2, ensure_ascii=False)
    target.write_text(text + "\n", encoding="utf-8")
    return target


@cache
def results_schema() -> dict:
    """The JSON Schema (draft 2020-12) that results.json follows; shipped inside the package."""
    text = resources.files("harness.report").joinpath(SCHEMA_NAME).read_text(encoding="utf-8")
    return json.loads(text)

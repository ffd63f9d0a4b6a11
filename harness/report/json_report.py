"""results.json: the machine-readable record every other format can be re-rendered from."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from harness.results.model import RunResult, as_runs, runs_to_json
from harness.util.files import write_atomically

RESULTS_NAME = "results.json"
SCHEMA_NAME = "results.schema.json"


# Characters that json.dumps(ensure_ascii=False) writes raw but that must not be: lone surrogates
# (no UTF-8 encoder takes them), C1 controls, bidirectional overrides, line separators. They can
# only stand inside JSON strings, where the \uXXXX escape means the same character.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def json_text(document: Any) -> str:
    """`document` as indented JSON that any UTF-8 writer takes and that reads back unchanged."""
    text = json.dumps(document, indent=2, ensure_ascii=False)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"


def write_json(run: RunResult | Sequence[RunResult], report_dir: Path) -> Path:
    """Write REPORT_DIR/results.json (UTF-8, indented, stable key order), atomically: a pool's
    device runs as a list."""
    return write_atomically(Path(report_dir) / RESULTS_NAME, json_text(runs_to_json(as_runs(run))))


@cache
def results_schema() -> dict:
    """The JSON Schema (draft 2020-12) that results.json follows; shipped inside the package."""
    text = resources.files("harness.report").joinpath(SCHEMA_NAME).read_text(encoding="utf-8")
    return json.loads(text)

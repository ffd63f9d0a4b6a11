"""requirements.csv: one row per requirement, for the spreadsheet a certification engineer keeps.

RFC 4180: comma separated, CRLF line ends, fields quoted when needed. Several tests or reasons in
one cell are separated by line breaks, which spreadsheets show as lines inside the cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from harness.results.model import RunResult, as_runs
from harness.util.files import write_atomically
from harness.util.text import visible

CSV_NAME = "requirements.csv"
COLUMNS = ("id", "title", "source", "verdict", "tests", "reasons")
# A cell starting with one of these is run as a formula by spreadsheet programs.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def write_csv(run: RunResult | Sequence[RunResult], report_dir: Path) -> Path:
    """Write REPORT_DIR/requirements.csv, atomically; a pool run adds a first column naming each
    row's device. Device text has its control characters shown as escapes (`\x1b`), never raw."""
    target = Path(report_dir) / CSV_NAME
    runs = as_runs(run)
    pool = len(runs) > 1
    with io.StringIO(newline="") as handle:
        writer = csv.writer(handle, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(("device", *COLUMNS) if pool else COLUMNS)
        for device_run in runs:
            tests = device_run.tests_by_nodeid()
            for req in device_run.requirements:
                reasons = []
                for nodeid in req.tests:
                    test = tests.get(nodeid)
                    if test is not None:
                        detail = f": {test.reason}" if test.reason else ""
                        reasons.append(f"{nodeid}: {test.verdict.value}{detail}")
                row = (
                    req.id,
                    req.title,
                    req.source,
                    req.verdict.value,
                    "\n".join(req.tests),
                    "\n".join(reasons),
                )
                if pool:
                    row = (str(device_run.device.get("name", "")), *row)
                writer.writerow([_defuse(visible(cell)) for cell in row])
        return write_atomically(target, handle.getvalue())


def _defuse(cell: str) -> str:
    """Keep a spreadsheet from evaluating text as a formula (OWASP CSV injection advice)."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell

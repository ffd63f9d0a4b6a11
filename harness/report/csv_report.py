"""requirements.csv: one row per requirement, for the spreadsheet a certification engineer keeps.

RFC 4180: comma separated, CRLF line ends, fields quoted when needed. Several tests or reasons in
one cell are separated by line breaks, which spreadsheets show as lines inside the cell.
"""

from __future__ import annotations

import csv
from pathlib import Path

from harness.results.model import RunResult

CSV_NAME = "requirements.csv"
COLUMNS = ("id", "title", "source", "verdict", "tests", "reasons")
# A cell starting with one of these is run as a formula by spreadsheet programs.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def write_csv(run: RunResult, report_dir: Path) -> Path:
    """Write REPORT_DIR/requirements.csv."""
    target = Path(report_dir) / CSV_NAME
    tests = run.tests_by_nodeid()
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(COLUMNS)
        for req in run.requirements:
            reasons = []
            for nodeid in req.tests:
                test = tests.get(nodeid)
                if test is not None:
                    detail = f": {test.reason}" if test.reason else ""
                    reasons.append(f"{nodeid}: {test.verdict.value}{detail}")
            row = (req.id, req.title, req.source, req.verdict.value, "\n".join(req.tests), "\n".join(reasons))
            writer.writerow([_defuse(cell) for cell in row])
    return target


def _defuse(cell: str) -> str:
    """Keep a spreadsheet from evaluating text as a formula (OWASP CSV injection advice)."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell

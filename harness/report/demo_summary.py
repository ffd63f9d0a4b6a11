"""Print the verdict summary of one or more report directories (the end of `make demo`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from harness.report.terminal import format_summary
from harness.results.model import RunResult


def main(argv: list[str]) -> int:
    status = 0
    for folder in map(Path, argv):
        results = folder / "results.json"
        if not results.is_file():
            print(f"{folder}: no results.json (the run did not finish; see its output above)")
            status = 1
            continue
        run = RunResult.from_json(json.loads(results.read_text()))
        print(f"\n== {folder.resolve()} ==")
        print(format_summary(run))
        print(f"   open {folder.resolve() / 'report.html'}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

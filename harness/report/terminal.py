"""The one-screen verdict table printed at the end of a run (terminal, `make demo`)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from harness.results.verdicts import Verdict
from harness.util.text import one_line

_ORDER = [Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.PASS, Verdict.NOT_APPLICABLE, Verdict.NOT_TESTED]
LINE_WIDTH = 140


def format_summary(run: Any, *, show_untested: bool = False, width: int = LINE_WIDTH) -> str:
    """One line per requirement, worst first, with the first reason of a FAIL or INCONCLUSIVE
    clipped to the line; the full reasons are in report.html. NOT_TESTED rows fold into the count."""
    device = f"device: {run.device.get('name')}  firmware: {run.device.get('firmware_version', '?')}"
    lines = [one_line(device)]
    # A device's text reaches the terminal: escapes shown, never acted on; one line per row.
    reasons = {t.nodeid: one_line(t.reason) for t in run.tests if t.reason}
    counts = Counter(r.verdict for r in run.requirements)
    for req in sorted(run.requirements, key=lambda r: (_ORDER.index(r.verdict), r.id)):
        if req.verdict is Verdict.NOT_TESTED and not show_untested:
            continue
        line = f"  {req.verdict.value:<14} {one_line(req.id):<12} {one_line(req.title)[:36]:<36}"
        if req.verdict in (Verdict.FAIL, Verdict.INCONCLUSIVE):
            first = next((reasons[n] for n in req.tests if n in reasons), "")
            line = f"{line} {first}"
        lines.append(line if len(line) <= width else line[: width - 3] + "...")
    totals = ", ".join(f"{counts[v]} {v.value}" for v in _ORDER if counts[v])
    lines.append(f"  requirements: {totals}")
    return "\n".join(lines)

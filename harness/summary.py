"""The one-screen verdict table printed at the end of a run (terminal, `make demo`)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from harness.verdicts import Verdict

_ORDER = [Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.PASS, Verdict.NOT_APPLICABLE, Verdict.NOT_TESTED]


def format_summary(run: Any, *, show_untested: bool = False) -> str:
    """Requirement verdicts with their reasons; NOT_TESTED rows folded into one count line."""
    lines = [f"device: {run.device.get('name')}  firmware: {run.device.get('firmware_version', '?')}"]
    reasons = {t.nodeid: t.reason for t in run.tests}
    counts = Counter(r.verdict for r in run.requirements)
    for req in sorted(run.requirements, key=lambda r: (_ORDER.index(r.verdict), r.id)):
        if req.verdict is Verdict.NOT_TESTED and not show_untested:
            continue
        lines.append(f"  {req.verdict.value:<15} {req.id:<13} {req.title}")
        for nodeid in req.tests:
            reason = reasons.get(nodeid, "")
            if reason:
                lines.append(f"  {'':<15} {'':<13} - {nodeid.split('::')[-1]}: {reason[:150]}")
    totals = ", ".join(f"{counts[v]} {v.value}" for v in _ORDER if counts[v])
    lines.append(f"  requirements: {totals}")
    return "\n".join(lines)

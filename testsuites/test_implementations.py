"""EN 303 645 5.5-2: the device's network and security implementations are the ones its maker
declares (the profile's `implementations`), and each was reviewed or evaluated.

What the device really runs is taken from its behaviour: the attack-surface suite's lab-side scan
and service identification (harness.probes.service_id, shared through the `service_inventory`
fixture), where an answer names its software (SSH identification string, HTTP Server header) or
only its kind (telnet, a shell). The decisions live in harness.checks.implementations (tested both
ways).
"""

from __future__ import annotations

import pytest

from harness.checks.implementations import (
    DeclaredImplementation,
    ObservedService,
    judge_declared_implementations,
    judge_implementation_reviews,
)
from harness.plugin.conclusions import conclude, inconclusive

pytestmark = pytest.mark.requirement("FS38-05", "EN303645-5.5-2")


def _declared(profile) -> list[DeclaredImplementation] | None:
    if profile.implementations is None:
        return None
    return [
        DeclaredImplementation(
            i.name,
            i.version,
            i.purpose,
            tuple(i.answers_as),
            reviewed_by=i.review.by if i.review else "",
            review_scope=i.review.scope if i.review else "",
            review_reference=i.review.reference if i.review else "",
            reviewed=i.review is not None,
        )
        for i in profile.implementations
    ]


@pytest.mark.requirement("TS103701-5.5-2-2a")
def test_answering_implementations_are_the_declared_ones(profile, evidence, service_inventory):
    """An implementation answering on the network that the profile does not declare, or that
    names another version than declared, is a FAIL naming the port, what answered and what was
    declared."""
    evidence.write_text("service-inventory.txt", service_inventory.summary())
    if not service_inventory.available:
        inconclusive(service_inventory.why_not)
    observed = [
        ObservedService(s.port, s.kind, s.evidence, s.product) for s in service_inventory.services.values()
    ]
    result = judge_declared_implementations(_declared(profile), observed)
    details = result.details or {}
    evidence.write_text(
        "implementations.txt",
        "".join(f"declared: {d}\n" for d in _declared(profile) or [])
        + "".join(f"observed: tcp/{s.port} {s.kind} {s.product or '-'} ({s.evidence})\n" for s in observed)
        + f"verdict: {result.verdict}\nreason: {result.reason}\n"
        + "".join(f"note: {note}\n" for note in details.get("notes", [])),
    )
    conclude(result)


@pytest.mark.conceptual
@pytest.mark.requirement("TS103701-5.5-2-1a", "TS103701-5.5-2-1b")
def test_each_declared_implementation_was_reviewed_for_its_purpose(profile, evidence):
    """Conceptual: each declared implementation has a review or evaluation record (who, and a
    scope naming the implementation's declared purpose)."""
    result = judge_implementation_reviews(_declared(profile))
    evidence.write_text("reviews.txt", f"verdict: {result.verdict}\nreason: {result.reason}\n")
    conclude(result)

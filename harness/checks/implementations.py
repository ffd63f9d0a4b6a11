"""EN 303 645 5.5-2: the network and security implementations a device runs are the ones its maker
declares, and each declared one was reviewed or evaluated.

`judge_declared_implementations` compares what answers on the network with the declaration: a
service whose answer names its software (SSH's `SSH-2.0-dropbear_2022.83`, an HTTP `Server:`
header) must be a declared implementation with the declared version; a service that answers
without naming its software (telnet's option negotiation, a bare shell) must be covered by a
declared implementation that answers as that kind. Each mismatch is a FAIL naming the port, what
answered and what was declared. Declared implementations nothing observed are listed as not
verified; with no comparison at all the verdict is INCONCLUSIVE, never PASS.

`judge_implementation_reviews` is the conceptual half: each declared implementation carries a
review or evaluation record whose scope names its declared purpose.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from harness.results.outcome import Outcome

PROFILE_FIELD = "implementations"
# Service kinds that carry no implementation to attribute: nothing answered, or nothing recognisable.
UNATTRIBUTABLE_KINDS = frozenset(("closed", "unknown"))
_PRODUCT_SEPARATOR = re.compile(r"[_/]")


@dataclass(frozen=True)
class DeclaredImplementation:
    """One entry of the profile's `implementations` list."""

    name: str
    version: str
    purpose: str
    answers_as: tuple[str, ...] = ()
    reviewed_by: str = ""
    review_scope: str = ""
    review_reference: str = ""
    reviewed: bool = False

    def __str__(self) -> str:
        return f"{self.name} {self.version} ({self.purpose})"


@dataclass(frozen=True)
class ObservedService:
    """What answered on one TCP port: its kind, the escaped evidence and the software it named."""

    port: int
    kind: str
    evidence: str
    product: str = ""  # as the service named itself, e.g. "dropbear_2022.83" or "lighttpd/1.4.69"


def split_product(product: str) -> tuple[str, str]:
    """A self-identification's (name, version): "dropbear_2022.83" and "lighttpd/1.4.69 (Debian)"
    give ("dropbear", "2022.83") and ("lighttpd", "1.4.69"); a bare name has version ""."""
    token = product.strip().split(" ", 1)[0] if product.strip() else ""
    parts = _PRODUCT_SEPARATOR.split(token, maxsplit=1)
    return parts[0], parts[1] if len(parts) > 1 else ""


def _same(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def judge_declared_implementations(
    declared: Sequence[DeclaredImplementation] | None, observed: Sequence[ObservedService]
) -> Outcome:
    """FAIL naming each answering implementation that is undeclared or of another version;
    INCONCLUSIVE without a declaration or without one name-and-version comparison.

    Details: `compared` (what matched), `findings`, `not_verified` (declared, not observed) and
    `notes` (answers that name nothing and services nothing could be attributed to).
    """
    if declared is None:
        return Outcome.inconclusive(
            f"the profile declares no network or security implementations ({PROFILE_FIELD})",
            [f"the profile's {PROFILE_FIELD} list (name, version, purpose, answers_as)"],
        )
    findings: list[str] = []
    compared: list[str] = []
    notes: list[str] = []
    seen: set[int] = set()
    names = ", ".join(str(d) for d in declared) or "none"
    for service in sorted(observed, key=lambda s: s.port):
        where = f"tcp/{service.port}"
        if service.product:
            name, version = split_product(service.product)
            matches = [i for i, d in enumerate(declared) if _same(d.name, name)]
            if not matches:
                findings.append(
                    f"{where} answers as {name} {version or '(no version)'} ({service.evidence}), "
                    f"which the profile does not declare (declared: {names})"
                )
                continue
            seen.update(matches)
            if not version:
                notes.append(f"{where} names {name} without a version: its version is not verified")
                continue
            if any(_same(declared[i].version, version) for i in matches):
                compared.append(f"{where} {name} {version}")
                continue
            versions = ", ".join(declared[i].version for i in matches)
            findings.append(
                f"{where} answers as {name} {version} ({service.evidence}), declared version {versions}"
            )
        elif service.kind in UNATTRIBUTABLE_KINDS:
            notes.append(f"{where} answered nothing recognisable ({service.evidence}): not attributed")
        else:
            covering = [i for i, d in enumerate(declared) if service.kind in d.answers_as]
            if not covering:
                findings.append(
                    f"{where} answers as {service.kind} ({service.evidence}), and no declared "
                    f"implementation answers as {service.kind} (declared: {names})"
                )
                continue
            seen.update(covering)
            notes.append(
                f"{where} {service.kind} is declared as {' or '.join(str(declared[i]) for i in covering)}; "
                "its answer names no software, so name and version are not verified"
            )
    not_verified = [str(d) for i, d in enumerate(declared) if i not in seen]
    details = {"compared": compared, "findings": findings, "not_verified": not_verified, "notes": notes}
    if findings:
        return Outcome.failed(findings, details=details)
    unverified = (
        f"; not verified (not seen on the network): {', '.join(not_verified)}" if not_verified else ""
    )
    if not compared:
        return Outcome.inconclusive(
            "no network service named its implementation and version, so nothing could be compared "
            f"with the declaration{unverified}",
            [
                "a network service whose answer names its software and version (SSH identification, HTTP Server)"
            ],
            details=details,
        )
    return Outcome.passed(f"answering as declared: {', '.join(compared)}{unverified}", details=details)


def judge_implementation_reviews(declared: Sequence[DeclaredImplementation] | None) -> Outcome:
    """FAIL naming each declared implementation without a review or evaluation record, or whose
    review scope is empty or does not name the implementation's declared purpose."""
    if not declared:
        return Outcome.inconclusive(
            f"the profile declares no network or security implementations ({PROFILE_FIELD})",
            [f"the profile's {PROFILE_FIELD} list, each entry with a review (by, scope)"],
        )
    findings = []
    for implementation in declared:
        if not implementation.reviewed:
            findings.append(f"{implementation}: no review or evaluation record ({PROFILE_FIELD}[].review)")
        elif not implementation.review_scope.strip():
            findings.append(f"{implementation}: the review by {implementation.reviewed_by} states no scope")
        elif (
            implementation.purpose.casefold() not in " ".join(implementation.review_scope.split()).casefold()
        ):
            findings.append(
                f"{implementation}: the review's scope {implementation.review_scope!r} does not name its "
                f"purpose {implementation.purpose!r}"
            )
    if findings:
        return Outcome.failed(findings)
    return Outcome.passed(
        "each declared implementation was reviewed for its purpose: "
        + "; ".join(
            f"{d} by {d.reviewed_by}" + (f" ({d.review_reference})" if d.review_reference else "")
            for d in declared
        )
    )

"""Ways of looking at the catalog: by cross-reference scheme, and as the text `hilsec requirements` prints.

A scheme view is strict: a provision (EN 303 645 5.1-4, EN 18031-1 AUM-6, a TS 103 701 test unit)
counts as exercised only by tests whose requirement marker names it. A catalog requirement that
merely cites the provision lends it no tests: the provision is NOT_TESTED, naming who cites it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from harness.requirements.catalog import SCHEMES, TS103701, Catalog, CrossRef

NOT_TESTED = "NOT_TESTED"
FUNCTIONALLY, CONCEPTUALLY, NOT_AUTOMATED = "functionally", "conceptually", "not automated"


def check_scheme(scheme: str) -> str:
    """The scheme name, or ValueError listing the valid ones."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    return scheme


def scheme_view(catalog: Catalog, scheme: str) -> dict[str, list[str]]:
    """For each ID of `scheme`, the catalog IDs that cite it (every defined ID, maybe with none)."""
    check_scheme(scheme)
    view: dict[str, list[str]] = {c.id: [] for c in catalog.crossrefs(scheme)}
    for requirement in catalog:
        for crossref in requirement.crossrefs:
            if crossref.scheme == scheme:
                view[crossref.id].append(requirement.id)
    return view


@dataclass
class ProvisionCoverage:
    """One provision of a scheme: who cites it, which tests exercise it, and how."""

    crossref: CrossRef
    cited_by: list[str]
    tests: list[str]
    conceptual_tests: list[str] = field(default_factory=list)

    @property
    def automation(self) -> str:
        """functionally (a device test names it), conceptually (only declared-evidence tests), or not."""
        if any(t not in self.conceptual_tests for t in self.tests):
            return FUNCTIONALLY
        return CONCEPTUALLY if self.tests else NOT_AUTOMATED


def provision_coverage(
    catalog: Catalog, coverage: Mapping[str, list[str]], scheme: str
) -> list[ProvisionCoverage]:
    """Every provision of `scheme` with the tests that name it in their marker (and nothing else)."""
    conceptual = set(getattr(coverage, "conceptual", ()))
    rows = []
    for crossref_id, cited_by in scheme_view(catalog, scheme).items():
        tests = list(dict.fromkeys(coverage.get(crossref_id, [])))
        rows.append(
            ProvisionCoverage(
                catalog.crossref(crossref_id), cited_by, tests, [t for t in tests if t in conceptual]
            )
        )
    return rows


def _tests_line(tests: list[str], indent: str, empty: str = NOT_TESTED) -> list[str]:
    if not tests:
        return [f"{indent}tests: {empty}"]
    return [f"{indent}tests: {tests[0]}", *(f"{indent}       {t}" for t in tests[1:])]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def automation_share(
    rows: list[ProvisionCoverage], *, network_only: bool = True
) -> tuple[int, int, int, int]:
    """(automated, functionally, conceptually, units) over the network-threat units (or all)."""
    chosen = [r for r in rows if r.crossref.network or not network_only]
    functional = sum(1 for r in chosen if r.automation == FUNCTIONALLY)
    conceptual = sum(1 for r in chosen if r.automation == CONCEPTUALLY)
    return functional + conceptual, functional, conceptual, len(chosen)


def share_line(rows: list[ProvisionCoverage]) -> str:
    automated, functional, conceptual, total = automation_share(rows)
    percent = 100.0 * automated / total if total else 0.0
    return (
        f"network attack threat model: {automated} of {total} TS 103 701 test units automated "
        f"({percent:.0f} %): {functional} functionally, {conceptual} conceptually"
    )


def format_catalog(catalog: Catalog, coverage: Mapping[str, list[str]], scheme: str | None = None) -> str:
    """The catalog as text: each ID with title, source, assessment and covering tests (or NOT_TESTED).

    With a scheme, the listing runs through that scheme's provisions, each with only the tests that
    name it in their marker; the closing line counts provisions, not catalog requirements.
    """
    lines: list[str] = []
    if scheme is None:
        for requirement in catalog:
            lines.append(f"{requirement.id}  {requirement.title}")
            lines.append(f"    source: {requirement.source}; assessment: {requirement.assessment}")
            refs = ", ".join(c.id for c in requirement.crossrefs)
            lines.append(f"    cross references: {refs or '-'}")
            lines.extend(_tests_line(_unique(coverage.get(requirement.id, [])), "    "))
        covered = sum(1 for r in catalog if coverage.get(r.id))
        closing = f"{covered} of {len(catalog)} requirements covered by tests"
    elif scheme == TS103701:
        rows = provision_coverage(catalog, coverage, scheme)
        lines.append(rows[0].crossref.version if rows else scheme)
        note = catalog.scheme_notes.get(scheme)
        if note:
            lines.append(f"  ({note})")
        for row in rows:
            flags = row.crossref.kind + (", network" if row.crossref.network else "")
            lines.append(f"{row.crossref.id}  [{flags}]  {row.crossref.title}")
            lines.append(f"    automated: {row.automation}")
            if row.tests:
                lines.extend(_tests_line(row.tests, "    "))
        automated, _, _, total = automation_share(rows, network_only=False)
        closing = share_line(rows) + f"\nall units: {automated} of {total} automated"
    else:
        rows = provision_coverage(catalog, coverage, scheme)
        lines.append(rows[0].crossref.version if rows else scheme)
        note = catalog.scheme_notes.get(scheme)
        if note:
            lines.append(f"  ({note})")
        for row in rows:
            lines.append(f"{row.crossref.id}  {row.crossref.title}")
            if row.crossref.note:
                lines.append(f"    note: {row.crossref.note}")
            lines.append(f"    cited by: {', '.join(row.cited_by) or '-'}")
            cited = f" (cited by {', '.join(row.cited_by)}; no test exercises it)" if row.cited_by else ""
            lines.extend(_tests_line(row.tests, "    ", NOT_TESTED + cited))
        exercised = sum(1 for r in rows if r.tests)
        cited_only = sum(1 for r in rows if r.cited_by and not r.tests)
        closing = (
            f"{exercised} of {len(rows)} provisions exercised by tests "
            f"({cited_only} cited by a requirement but exercised by no test)"
        )
    unknown = sorted(i for i in coverage if not catalog.is_known(i))
    if unknown:
        lines.append("")
        lines.append("IDs used in markers but not in the catalog: " + ", ".join(unknown))
    lines.append("")
    lines.append(closing)
    return "\n".join(lines) + "\n"

"""Ways of looking at the catalog: by cross-reference scheme, and as the text `hilsec requirements` prints."""

from __future__ import annotations

from harness.requirements.catalog import SCHEMES, Catalog

NOT_TESTED = "NOT_TESTED"


def check_scheme(scheme: str) -> str:
    """The scheme name, or ValueError listing the valid ones."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    return scheme


def scheme_view(catalog: Catalog, scheme: str) -> dict[str, list[str]]:
    """For each ID of `scheme` (en303645 | en18031 | clp13), the catalog IDs that cite it.

    Scheme IDs appear in catalog order of definition; every defined ID is present, even if no
    requirement cites it (then with an empty list).
    """
    check_scheme(scheme)
    view: dict[str, list[str]] = {c.id: [] for c in catalog.crossrefs(scheme)}
    for requirement in catalog:
        for crossref in requirement.crossrefs:
            if crossref.scheme == scheme:
                view[crossref.id].append(requirement.id)
    return view


def _tests_line(tests: list[str], indent: str) -> list[str]:
    if not tests:
        return [f"{indent}tests: {NOT_TESTED}"]
    return [f"{indent}tests: {tests[0]}", *(f"{indent}       {t}" for t in tests[1:])]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def format_catalog(catalog: Catalog, coverage: dict[str, list[str]], scheme: str | None = None) -> str:
    """The catalog as text: each ID with title, source, assessment and covering tests (or NOT_TESTED).

    With a scheme, the listing runs through that scheme's IDs; a scheme ID is covered by tests of
    the catalog IDs that cite it and by tests that cite the scheme ID directly.
    """
    lines: list[str] = []
    if scheme is None:
        for requirement in catalog:
            lines.append(f"{requirement.id}  {requirement.title}")
            lines.append(f"    source: {requirement.source}; assessment: {requirement.assessment}")
            refs = ", ".join(c.id for c in requirement.crossrefs)
            lines.append(f"    cross references: {refs or '-'}")
            lines.extend(_tests_line(_unique(coverage.get(requirement.id, [])), "    "))
    else:
        view = scheme_view(catalog, scheme)
        version = next((c.version for c in catalog.crossrefs(scheme)), scheme)
        lines.append(f"{version}")
        note = catalog.scheme_notes.get(scheme)
        if note:
            lines.append(f"  ({note})")
        for crossref_id, requirement_ids in view.items():
            crossref = catalog.crossref(crossref_id)
            lines.append(f"{crossref_id}  {crossref.title}")
            if crossref.note:
                lines.append(f"    note: {crossref.note}")
            direct = coverage.get(crossref_id, [])
            via = [t for rid in requirement_ids for t in coverage.get(rid, [])]
            lines.append(f"    requirements: {', '.join(requirement_ids) or '-'}")
            lines.extend(_tests_line(_unique([*via, *direct]), "    "))
    unknown = sorted(i for i in coverage if not catalog.is_known(i))
    if unknown:
        lines.append("")
        lines.append("IDs used in markers but not in the catalog: " + ", ".join(unknown))
    covered = sum(1 for r in catalog if coverage.get(r.id))
    lines.append("")
    lines.append(f"{covered} of {len(catalog)} requirements covered by tests")
    return "\n".join(lines) + "\n"

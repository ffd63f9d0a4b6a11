"""Does a results.json agree with itself? Requirement verdicts must follow from the tests' verdicts.

A hand-edited results.json that turns a FAIL into a PASS in the requirement table but not in the
tests (or drops the failing test from a requirement's list) is rejected by `hilsec report verify`
and `hilsec report diff`: the roll-up is DESIGN.md's, recomputed here from the tests themselves.
"""

from __future__ import annotations

from harness.results.verdicts import rollup


def rollup_problems(run) -> list[str]:
    """One line per requirement whose verdict or test list disagrees with the run's tests."""
    problems: list[str] = []
    tests = {test.nodeid: test for test in run.tests}
    if len(tests) != len(run.tests):
        problems.append("tests: a node ID is listed twice")
    naming: dict[str, list[str]] = {}
    for test in run.tests:
        for req_id in dict.fromkeys(test.requirements):
            naming.setdefault(req_id, []).append(test.nodeid)
    seen: set[str] = set()
    for req in run.requirements:
        if req.id in seen:
            problems.append(f"requirements: {req.id} is listed twice")
        seen.add(req.id)
        unknown = [n for n in req.tests if n not in tests]
        if unknown:
            problems.append(f"requirements: {req.id} names a test the run does not have: {unknown[0]}")
        listed, expected = set(req.tests), set(naming.get(req.id, []))
        if listed != expected:
            missing = sorted(expected - listed)
            if missing:
                problems.append(f"requirements: {req.id} leaves out its test {missing[0]}")
            wrong = sorted(n for n in listed - expected if n in tests)
            if wrong:
                problems.append(f"requirements: {req.id} lists {wrong[0]}, which does not name it")
        verdict = rollup(tests[n].verdict for n in naming.get(req.id, []))
        if verdict is not req.verdict:
            problems.append(
                f"requirements: {req.id} is {req.verdict.value} but its tests roll up to {verdict.value}"
            )
    for req_id in sorted(set(naming) - seen):
        problems.append(f"requirements: {req_id} is named by tests but missing from the requirements")
    return problems


def pool_problems(document: dict, runs) -> list[str]:
    """A pool results.json: its requirement table must be the devices' verdicts, rolled up."""
    from harness.results.model import pool_requirements

    expected = {row["id"]: row for row in pool_requirements(runs)}
    stored = document.get("requirements")
    if not isinstance(stored, list):
        return ["requirements: missing from the pool's results.json"]
    problems = []
    seen = set()
    for row in stored:
        req_id = row.get("id") if isinstance(row, dict) else None
        seen.add(req_id)
        want = expected.get(req_id)
        if want is None:
            problems.append(f"requirements: {req_id!r} is in no device's run")
        elif row.get("verdict") != want["verdict"] or row.get("devices") != want["devices"]:
            problems.append(
                f"requirements: {req_id} is {row.get('verdict')} over the pool but its devices roll up to {want['verdict']}"
            )
    problems.extend(
        f"requirements: {req_id} is missing from the pool table" for req_id in sorted(set(expected) - seen)
    )
    return problems

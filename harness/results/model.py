"""What one run found: test verdicts, requirement verdicts, and their JSON form.

Every report writer reads only a `RunResult`, so what a report can show is exactly what this
module holds; `RunResult.redacted()` is the single place where secrets are scrubbed from it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from harness.results.evidence import evidence_path_problem
from harness.results.redact import redact_text
from harness.results.verdicts import Verdict, rollup

TEST_VERDICTS = (Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.NOT_APPLICABLE)
ASSESSMENT_KINDS = ("functional", "conceptual")
SCHEMA_VERSION = 1

# Prefixes of cross-reference IDs as tests write them in markers, and the scheme each names.
CROSSREF_SCHEMES = {"EN303645": "en303645", "EN18031": "en18031", "CLP13": "clp13", "TS103701": "ts103701"}


class ResultFormatError(ValueError):
    """results.json (or a dict meant to be one) is malformed; `field` says where."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


@dataclass
class TestResult:
    """One pytest item's outcome, with the requirement IDs it checks and its evidence files."""

    __test__ = False  # a data class, not a pytest test class

    nodeid: str
    requirements: list[str]
    crossrefs: list[str]
    verdict: Verdict
    reason: str
    evidence: list[str]  # paths relative to the report dir, e.g. "evidence/<test-slug>/console.log"
    duration_s: float
    kind: str = "functional"  # or "conceptual" (assessed from the profile's declarations)
    phase: str = "call"  # the pytest phase that decided: setup, call, teardown ("" when never run)
    radio: str = ""  # for a cellular verdict: the radio that produced it (virtual radio, SDR, callbox)


@dataclass
class RequirementResult:
    """One catalog requirement rolled up from the tests that name it."""

    id: str
    title: str
    source: str
    verdict: Verdict
    tests: list[str]
    crossrefs: list[str] = field(default_factory=list)  # marker-form IDs, e.g. "EN303645-5.1-1"


@dataclass
class RunResult:
    """Everything a report shows about one run against one device."""

    device: dict
    started: str
    finished: str
    harness_version: str
    tests: list[TestResult]
    requirements: list[RequirementResult]

    def to_json(self) -> dict:
        """The results.json document (DESIGN.md "Report directory"), plain JSON types only."""
        return {
            "schema_version": SCHEMA_VERSION,
            "harness_version": self.harness_version,
            "device": dict(self.device),
            "started": self.started,
            "finished": self.finished,
            "summary": self.summary(),
            "tests": [_test_to_json(t) for t in self.tests],
            "requirements": [_requirement_to_json(r) for r in self.requirements],
        }

    @classmethod
    def from_json(cls, data: Any) -> RunResult:
        """Rebuild a run from results.json; ResultFormatError names the first bad field."""
        obj = _expect(data, dict, "$")
        device = _expect(obj.get("device"), dict, "device")
        tests = _expect(obj.get("tests"), list, "tests")
        reqs = _expect(obj.get("requirements"), list, "requirements")
        return cls(
            device=device,
            started=_expect(obj.get("started"), str, "started"),
            finished=_expect(obj.get("finished"), str, "finished"),
            harness_version=_expect(obj.get("harness_version", ""), str, "harness_version"),
            tests=[_test_from_json(t, f"tests[{i}]") for i, t in enumerate(tests)],
            requirements=[_requirement_from_json(r, f"requirements[{i}]") for i, r in enumerate(reqs)],
        )

    def summary(self) -> dict[str, dict[str, int]]:
        """Requirement verdict counts per requirement source ("FS.25", "FS.38"), plus "total"."""
        counts: dict[str, dict[str, int]] = {}
        for req in self.requirements:
            for key in (req.source or "unknown", "total"):
                row = counts.setdefault(key, {v.value: 0 for v in Verdict})
                row[req.verdict.value] += 1
        total = counts.pop("total", {v.value: 0 for v in Verdict})
        return {**dict(sorted(counts.items())), "total": total}

    def tests_by_nodeid(self) -> dict[str, TestResult]:
        return {t.nodeid: t for t in self.tests}

    def redacted(self, secrets: Iterable[str]) -> RunResult:
        """A copy with every secret replaced in all free text (reasons, device fields, nodeids)."""
        secrets = [s for s in secrets if s]
        if not secrets:
            return self

        def change(text: str) -> str:
            return redact(text, secrets)

        return RunResult(
            device=_map_value(self.device, change, keys=False),
            started=self.started,
            finished=self.finished,
            harness_version=self.harness_version,
            tests=[_map_fields(t, change, ("nodeid", "reason"), ("evidence",)) for t in self.tests],
            requirements=[_map_fields(r, change, (), ("tests",)) for r in self.requirements],
        )

    def visible(self) -> RunResult:
        """A copy for display (HTML, CSV, JUnit, the terminal): every text's control characters
        shown as escapes (harness.util.text.visible), so what a device printed is never acted on."""
        from harness.util.text import visible

        return self.map_text(visible)

    def map_text(self, change: Callable[[str], str]) -> RunResult:
        """A copy with `change` applied to every string (device fields and keys included)."""
        return RunResult(
            device=_map_value(self.device, change),
            started=change(self.started),
            finished=change(self.finished),
            harness_version=change(self.harness_version),
            tests=[
                _map_fields(
                    t, change, ("nodeid", "reason", "kind"), ("requirements", "crossrefs", "evidence")
                )
                for t in self.tests
            ],
            requirements=[
                _map_fields(r, change, ("id", "title", "source"), ("tests", "crossrefs"))
                for r in self.requirements
            ],
        )


_Record = TypeVar("_Record", "TestResult", "RequirementResult")


def _map_fields(
    record: _Record, change: Callable[[str], str], texts: tuple[str, ...], lists: tuple[str, ...]
) -> _Record:
    """A copy of `record` with `change` applied to its text fields `texts` and list fields `lists`."""
    changed = {name: change(getattr(record, name)) for name in texts}
    changed.update({name: [change(v) for v in getattr(record, name)] for name in lists})
    return dataclasses.replace(record, **changed)


def _map_value(value: Any, change: Callable[[str], str], *, keys: bool = True) -> Any:
    """`value` (JSON-like) with `change` applied to every string in it; mapping keys too if `keys`."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, Mapping):
        return {(change(str(k)) if keys else k): _map_value(v, change, keys=keys) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_map_value(v, change, keys=keys) for v in value]
    return value


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret (longest first, so overlaps cannot leak a tail)."""
    return redact_text(text, secrets)


class _RequirementLike(Protocol):
    id: str
    title: str
    source: str
    crossrefs: Sequence[Any]


def crossref_label(ref: Any) -> str:
    """A catalog CrossRef as the ID a marker uses: "EN303645-5.1-1", "EN18031-AUM-5", "CLP13_6.9"."""
    if isinstance(ref, str):
        return ref
    ident = str(getattr(ref, "id", ""))
    scheme = str(getattr(ref, "scheme", "")).lower()
    if any(ident.upper().startswith(prefix) for prefix in CROSSREF_SCHEMES):
        return ident
    if scheme == "clp13":
        return f"CLP13_{ident}"
    prefix = {v: k for k, v in CROSSREF_SCHEMES.items()}.get(scheme, scheme.upper())
    return f"{prefix}-{ident}"


def crossref_scheme(label: str) -> str | None:
    """The scheme ("en303645", "en18031", "clp13") a marker-form cross-reference ID belongs to."""
    upper = label.upper()
    for prefix, scheme in CROSSREF_SCHEMES.items():
        if upper.startswith(prefix):
            return scheme
    return None


def requirement_results(
    catalog: Iterable[_RequirementLike], tests: Sequence[TestResult]
) -> list[RequirementResult]:
    """Every catalog requirement with its rolled-up verdict, in catalog order.

    A requirement no test names is NOT_TESTED. A test naming an ID the catalog lacks (the plugin
    should have refused it at collection) is still reported, after the catalog's rows, rather
    than silently dropped.
    """
    by_id: dict[str, list[TestResult]] = {}
    for test in tests:
        for req_id in dict.fromkeys(test.requirements):
            by_id.setdefault(req_id, []).append(test)
    results = []
    known: set[str] = set()
    for req in catalog:
        known.add(req.id)
        covering = by_id.get(req.id, [])
        results.append(
            RequirementResult(
                id=req.id,
                title=req.title,
                source=req.source,
                verdict=rollup(t.verdict for t in covering),
                tests=[t.nodeid for t in covering],
                crossrefs=[crossref_label(ref) for ref in getattr(req, "crossrefs", ())],
            )
        )
    for req_id, covering in by_id.items():
        if req_id not in known:
            results.append(
                RequirementResult(
                    id=req_id,
                    title="(not in the requirement catalog)",
                    source="unknown",
                    verdict=rollup(t.verdict for t in covering),
                    tests=[t.nodeid for t in covering],
                )
            )
    return results


@dataclass(frozen=True)
class ProvisionResult:
    """One provision of a scheme in a run: its verdict comes only from the tests that name it."""

    id: str
    verdict: Verdict  # NOT_TESTED when no test names the provision, whatever cites it
    tests: list[str]
    cited_by: list[str]  # catalog requirements that cite it (context, never a verdict)


def provision_results(run: RunResult, scheme: str, *, include: Iterable[str] = ()) -> list[ProvisionResult]:
    """Each provision of `scheme` the run's requirements cite, its tests name, or `include` lists,
    with the roll-up of only the tests whose marker names it; sorted by provision."""
    cited: dict[str, list[str]] = {}
    for req in run.requirements:
        for label in req.crossrefs:
            if crossref_scheme(label) == scheme:
                cited.setdefault(label, []).append(req.id)
    named: dict[str, list[TestResult]] = {}
    for test in run.tests:
        for label in test.crossrefs:
            if crossref_scheme(label) == scheme:
                named.setdefault(label, []).append(test)
    ids = sorted({*cited, *named, *include}, key=_natural_key)
    return [
        ProvisionResult(
            provision,
            rollup(test.verdict for test in named.get(provision, [])),
            [test.nodeid for test in named.get(provision, [])],
            cited.get(provision, []),
        )
        for provision in ids
    ]


def _natural_key(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _test_to_json(test: TestResult) -> dict:
    return {
        "nodeid": test.nodeid,
        "requirements": list(test.requirements),
        "crossrefs": list(test.crossrefs),
        "verdict": test.verdict.value,
        "reason": test.reason,
        "evidence": list(test.evidence),
        "duration_s": test.duration_s,
        "kind": test.kind,
        "phase": test.phase,
        **({"radio": test.radio} if test.radio else {}),
    }


def _requirement_to_json(req: RequirementResult) -> dict:
    return {
        "id": req.id,
        "title": req.title,
        "source": req.source,
        "verdict": req.verdict.value,
        "tests": list(req.tests),
        "crossrefs": list(req.crossrefs),
    }


def _test_from_json(data: Any, where: str) -> TestResult:
    obj = _expect(data, dict, where)
    verdict = _verdict(obj.get("verdict"), f"{where}.verdict", TEST_VERDICTS)
    kind = _expect(obj.get("kind", "functional"), str, f"{where}.kind")
    if kind not in ASSESSMENT_KINDS:
        raise ResultFormatError(f"{where}.kind", f"{kind!r} is not one of {', '.join(ASSESSMENT_KINDS)}")
    duration = obj.get("duration_s", 0.0)
    if isinstance(duration, bool) or not isinstance(duration, int | float):
        raise ResultFormatError(f"{where}.duration_s", "is not a number")
    return TestResult(
        nodeid=_expect(obj.get("nodeid"), str, f"{where}.nodeid"),
        requirements=_strings(obj.get("requirements"), f"{where}.requirements"),
        crossrefs=_strings(obj.get("crossrefs", []), f"{where}.crossrefs"),
        verdict=verdict,
        reason=_expect(obj.get("reason", ""), str, f"{where}.reason"),
        evidence=_evidence_paths(obj.get("evidence", []), f"{where}.evidence"),
        duration_s=float(duration),
        kind=kind,
        phase=_phase(obj.get("phase", "call"), f"{where}.phase"),
        radio=_expect(obj.get("radio", ""), str, f"{where}.radio"),
    )


PHASES = ("setup", "call", "teardown", "")


def _phase(value: Any, where: str) -> str:
    if value not in PHASES:
        raise ResultFormatError(where, f"{value!r} is not one of setup, call, teardown or empty")
    return str(value)


def _requirement_from_json(data: Any, where: str) -> RequirementResult:
    obj = _expect(data, dict, where)
    return RequirementResult(
        id=_expect(obj.get("id"), str, f"{where}.id"),
        title=_expect(obj.get("title", ""), str, f"{where}.title"),
        source=_expect(obj.get("source", ""), str, f"{where}.source"),
        verdict=_verdict(obj.get("verdict"), f"{where}.verdict", tuple(Verdict)),
        tests=_strings(obj.get("tests", []), f"{where}.tests"),
        crossrefs=_strings(obj.get("crossrefs", []), f"{where}.crossrefs"),
    )


def _expect(value: Any, kind: type, where: str) -> Any:
    if not isinstance(value, kind):
        got = "missing" if value is None else f"a {type(value).__name__}"
        raise ResultFormatError(where, f"expected a {_JSON_NAMES.get(kind, kind.__name__)}, got {got}")
    return value


def _evidence_paths(value: Any, where: str) -> list[str]:
    """Evidence paths as `hilsec report` may follow them: under evidence/, never outside."""
    paths = _strings(value, where)
    for i, path in enumerate(paths):
        problem = evidence_path_problem(path)
        if problem is not None:
            shown = path if len(path) <= 80 else path[:77] + "..."
            raise ResultFormatError(f"{where}[{i}]", f"evidence path {shown!r} {problem}")
    return paths


def _strings(value: Any, where: str) -> list[str]:
    items = _expect(value, list, where)
    for i, item in enumerate(items):
        _expect(item, str, f"{where}[{i}]")
    return list(items)


def _verdict(value: Any, where: str, allowed: Sequence[Verdict]) -> Verdict:
    names = [v.value for v in allowed]
    if value not in names:
        raise ResultFormatError(where, f"{value!r} is not one of {', '.join(names)}")
    return Verdict(value)


_JSON_NAMES = {dict: "JSON object", list: "JSON array", str: "string"}


# --- a pool run: one RunResult per device ----------------------------------------------------------

POOL_SCHEMA_VERSION = 2


def as_runs(run_or_runs: RunResult | Sequence[RunResult]) -> list[RunResult]:
    """A run, or the device runs of a pool run, as a list of device runs."""
    return [run_or_runs] if isinstance(run_or_runs, RunResult) else list(run_or_runs)


def pool_requirements(runs: Sequence[RunResult]) -> list[dict]:
    """Each requirement over every device: rolled up from the devices' verdicts, each one listed."""
    rows: dict[str, dict] = {}
    for run in runs:
        name = str(run.device.get("name", ""))
        for req in run.requirements:
            row = rows.setdefault(
                req.id, {"id": req.id, "title": req.title, "source": req.source, "devices": {}}
            )
            row["devices"][name] = req.verdict.value
    for row in rows.values():
        tested = [Verdict(v) for v in row["devices"].values() if v != Verdict.NOT_TESTED.value]
        row["verdict"] = rollup(tested).value
    return list(rows.values())


def pool_provisions(runs: Sequence[RunResult], scheme: str) -> list[dict]:
    """Each provision of `scheme` over every device: a device's verdict comes only from its own
    tests whose marker names the provision (provision_results), the pool's from the devices that
    tested it, as for requirements."""
    rows: dict[str, dict] = {}
    for run in runs:
        name = str(run.device.get("name", ""))
        for provision in provision_results(run, scheme):
            row = rows.setdefault(provision.id, {"id": provision.id, "devices": {}, "cited_by": []})
            row["devices"][name] = provision.verdict.value
            row["cited_by"] += [req for req in provision.cited_by if req not in row["cited_by"]]
    for row in rows.values():
        tested = [Verdict(v) for v in row["devices"].values() if v != Verdict.NOT_TESTED.value]
        row["verdict"] = rollup(tested).value
    return [rows[key] for key in sorted(rows, key=_natural_key)]


def runs_to_json(runs: Sequence[RunResult]) -> dict:
    """results.json: one device's run as DESIGN.md shows it, or a pool's list of device runs."""
    if len(runs) == 1:
        return runs[0].to_json()
    return {
        "schema_version": POOL_SCHEMA_VERSION,
        "harness_version": runs[0].harness_version,
        "started": min(r.started for r in runs),
        "finished": max(r.finished for r in runs),
        "devices": [str(r.device.get("name", "")) for r in runs],
        "runs": [r.to_json() for r in runs],
        "requirements": pool_requirements(runs),
    }


def runs_from_json(data: Any) -> list[RunResult]:
    """The device runs of a results.json (one, or a pool's); ResultFormatError names a bad field."""
    obj = _expect(data, dict, "$")
    if "runs" not in obj:
        return [RunResult.from_json(obj)]
    items = _expect(obj.get("runs"), list, "runs")
    if not items:
        raise ResultFormatError("runs", "is empty")
    runs = []
    for i, item in enumerate(items):
        try:
            runs.append(RunResult.from_json(item))
        except ResultFormatError as err:
            raise ResultFormatError(f"runs[{i}].{err.field}", err.problem) from None
    return runs

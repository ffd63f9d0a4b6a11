"""RunResult's JSON round trip and the requirement rollup, against a hand-built stand-in catalog."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from harness.results.model import (
    RequirementResult,
    ResultFormatError,
    RunResult,
    TestResult,
    crossref_label,
    provision_results,
    redact,
    requirement_results,
)
from harness.results.verdicts import Verdict


@dataclass(frozen=True)
class StubCrossRef:
    scheme: str
    id: str
    version: str = ""
    title: str = ""


@dataclass(frozen=True)
class StubRequirement:
    id: str
    title: str
    source: str
    crossrefs: tuple[StubCrossRef, ...] = ()


@dataclass
class StubCatalog:
    """A stand-in for harness.requirements.Catalog: iterable requirements in catalog order."""

    requirements: list[StubRequirement] = field(default_factory=list)

    def __iter__(self):
        return iter(self.requirements)


CATALOG = StubCatalog(
    [
        StubRequirement(
            "SSU-SEC-0001",
            "Secure update mechanism",
            "FS.25",
            (StubCrossRef("en303645", "5.3-7", "V2.1.1"),),
        ),
        StubRequirement(
            "FS38-01",
            "Default credentials",
            "FS.38",
            (StubCrossRef("en303645", "5.1-1", "V2.1.1"), StubCrossRef("clp13", "6.9")),
        ),
        StubRequirement("FS38-04", "Secure communication", "FS.38"),
        StubRequirement("FS38-05", "Attack surface", "FS.38"),
        StubRequirement("FS38-07", "Logging", "FS.38", (StubCrossRef("clp13", "CLP13_6.13"),)),
    ]
)


def make_test(nodeid: str, verdict: Verdict, *requirements: str, reason: str = "") -> TestResult:
    return TestResult(
        nodeid=nodeid,
        requirements=list(requirements),
        crossrefs=[],
        verdict=verdict,
        reason=reason,
        evidence=[],
        duration_s=0.5,
    )


def verdict_of(results: list[RequirementResult], req_id: str) -> Verdict:
    return next(r.verdict for r in results if r.id == req_id)


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ([Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE], Verdict.FAIL),
        ([Verdict.PASS, Verdict.INCONCLUSIVE, Verdict.NOT_APPLICABLE], Verdict.INCONCLUSIVE),
        ([Verdict.NOT_APPLICABLE, Verdict.PASS], Verdict.PASS),
        ([Verdict.NOT_APPLICABLE, Verdict.NOT_APPLICABLE], Verdict.NOT_APPLICABLE),
        ([Verdict.FAIL, Verdict.NOT_APPLICABLE], Verdict.FAIL),
        ([], Verdict.NOT_TESTED),
    ],
)
def test_rollup_order_fail_inconclusive_pass_not_applicable(verdicts, expected):
    tests = [make_test(f"t.py::test_{i}", v, "FS38-04") for i, v in enumerate(verdicts)]
    assert verdict_of(requirement_results(CATALOG, tests), "FS38-04") is expected


def test_every_catalog_id_appears_and_uncovered_ones_are_not_tested():
    tests = [make_test("t.py::test_login", Verdict.PASS, "FS38-01")]
    results = requirement_results(CATALOG, tests)
    assert [r.id for r in results] == [r.id for r in CATALOG]
    assert verdict_of(results, "FS38-01") is Verdict.PASS
    for req_id in ("SSU-SEC-0001", "FS38-04", "FS38-05", "FS38-07"):
        row = next(r for r in results if r.id == req_id)
        assert row.verdict is Verdict.NOT_TESTED
        assert row.tests == []


def test_requirement_rows_carry_catalog_data_and_covering_tests():
    tests = [
        make_test("t.py::test_a", Verdict.PASS, "FS38-01", "FS38-05"),
        make_test("t.py::test_b", Verdict.FAIL, "FS38-05"),
    ]
    results = {r.id: r for r in requirement_results(CATALOG, tests)}
    assert results["FS38-05"].tests == ["t.py::test_a", "t.py::test_b"]
    assert results["FS38-05"].verdict is Verdict.FAIL
    assert results["FS38-01"].title == "Default credentials"
    assert results["FS38-01"].source == "FS.38"
    assert results["FS38-01"].crossrefs == ["EN303645-5.1-1", "CLP13_6.9"]
    assert results["FS38-07"].crossrefs == ["CLP13_6.13"]


def test_a_test_naming_the_same_id_twice_counts_once():
    tests = [make_test("t.py::test_a", Verdict.PASS, "FS38-04", "FS38-04")]
    assert next(r for r in requirement_results(CATALOG, tests) if r.id == "FS38-04").tests == ["t.py::test_a"]


def test_an_id_missing_from_the_catalog_is_reported_not_dropped():
    tests = [make_test("t.py::test_x", Verdict.FAIL, "FS38-99")]
    results = requirement_results(CATALOG, tests)
    assert results[-1].id == "FS38-99"
    assert results[-1].verdict is Verdict.FAIL
    assert results[-1].source == "unknown"


def sample_run() -> RunResult:
    tests = [
        TestResult(
            nodeid="testsuites/test_fs38_01.py::test_default_password[root]",
            requirements=["FS38-01"],
            crossrefs=["EN303645-5.1-1"],
            verdict=Verdict.FAIL,
            reason="device accepted root/root",
            evidence=["evidence/test_fs38_01/console.log"],
            duration_s=3.25,
        ),
        TestResult(
            nodeid="testsuites/test_fs25.py::test_cadence",
            requirements=["SSU-SEC-0001"],
            crossrefs=[],
            verdict=Verdict.NOT_APPLICABLE,
            reason="profile: no update channel",
            evidence=[],
            duration_s=0.0,
            kind="conceptual",
        ),
    ]
    return RunResult(
        device={"name": "dev", "profile": "p.yaml", "vendor": "v", "model": "m", "firmware_version": "1.0"},
        started="2026-01-01T10:00:00+00:00",
        finished="2026-01-01T10:05:00+00:00",
        harness_version="0.1.0",
        tests=tests,
        requirements=requirement_results(CATALOG, tests),
    )


def test_json_round_trip_is_lossless():
    run = sample_run()
    data = json.loads(json.dumps(run.to_json()))
    again = RunResult.from_json(data)
    assert again == run
    assert again.tests[0].verdict is Verdict.FAIL
    assert again.tests[1].kind == "conceptual"


def test_json_has_the_design_fields():
    data = sample_run().to_json()
    assert {"device", "started", "finished", "tests", "requirements", "harness_version"} <= data.keys()
    assert set(data["tests"][0]) >= {"nodeid", "requirements", "verdict", "reason", "evidence"}
    assert set(data["requirements"][0]) >= {"id", "title", "source", "verdict", "tests"}
    assert data["tests"][0]["verdict"] == "FAIL"
    assert data["summary"]["FS.38"]["FAIL"] == 1
    assert data["summary"]["FS.38"]["NOT_TESTED"] == 3
    assert data["summary"]["total"]["NOT_APPLICABLE"] == 1


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("tests"), "tests"),
        (lambda d: d["tests"][0].update(verdict="MAYBE"), "tests[0].verdict"),
        (lambda d: d["tests"][0].update(verdict="NOT_TESTED"), "tests[0].verdict"),
        (lambda d: d["tests"][1].update(evidence="x"), "tests[1].evidence"),
        (lambda d: d["requirements"][2].update(id=3), "requirements[2].id"),
        (lambda d: d.update(started=None), "started"),
    ],
)
def test_from_json_names_the_bad_field(mutate, field):
    data = sample_run().to_json()
    mutate(data)
    with pytest.raises(ResultFormatError) as caught:
        RunResult.from_json(data)
    assert caught.value.field == field


def test_redaction_reaches_every_free_text():
    run = sample_run()
    run.tests[0].reason = "logged in with hunter2 (hunter2x)"
    run.device["notes"] = ["pw hunter2"]
    clean = run.redacted(["hunter2", "hunter2x", ""])
    text = json.dumps(clean.to_json())
    assert "hunter2" not in text
    assert "********" in text
    assert "hunter2" in run.tests[0].reason  # the original is untouched


def test_redact_longest_secret_first():
    assert redact("abc abcdef", ["abc", "abcdef"]) == "******** ********"
    assert redact("nothing", []) == "nothing"


def test_crossref_labels_and_groups():
    assert crossref_label(StubCrossRef("en303645", "5.1-1")) == "EN303645-5.1-1"
    assert crossref_label(StubCrossRef("en18031", "AUM-5")) == "EN18031-AUM-5"
    assert crossref_label(StubCrossRef("clp13", "6.9")) == "CLP13_6.9"
    assert crossref_label(StubCrossRef("en303645", "EN303645-5.3-7")) == "EN303645-5.3-7"
    cited = {p.id: p.cited_by for p in provision_results(sample_run(), "en303645")}
    assert cited == {"EN303645-5.1-1": ["FS38-01"], "EN303645-5.3-7": ["SSU-SEC-0001"]}
    cited = {p.id: p.cited_by for p in provision_results(sample_run(), "clp13")}
    assert cited == {"CLP13_6.9": ["FS38-01"], "CLP13_6.13": ["FS38-07"]}


def test_a_provision_gets_its_verdict_only_from_tests_that_name_it():
    run = sample_run()
    by_id = {p.id: p for p in provision_results(run, "en303645")}
    for provision in by_id.values():
        naming = [t for t in run.tests if provision.id in t.crossrefs]
        assert provision.tests == [t.nodeid for t in naming]
        if not naming:  # cited by a requirement that may well PASS, but exercised by no test
            assert provision.verdict is Verdict.NOT_TESTED

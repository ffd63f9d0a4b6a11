"""The report directory: every writer's output parsed back and checked against the run it came from."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest

from harness.errors import ConfigError
from harness.report import load_results, rerender, verify_sha256sums, write_report
from harness.report.html import CrossRefGrouping, render_html
from harness.report.json_report import results_schema
from harness.report.junit import split_nodeid
from harness.report.sums import write_sha256sums
from harness.results.model import ProvisionResult, RunResult, TestResult, requirement_results
from harness.results.verdicts import Verdict

HOSTILE = '<script>alert("x")</script> & "quotes" \x1b[6n\x00'


@dataclass(frozen=True)
class StubCrossRef:
    scheme: str
    id: str
    version: str = "V2.1.1"
    title: str = ""


@dataclass(frozen=True)
class StubRequirement:
    id: str
    title: str
    source: str
    statement: str = ""
    provenance: str = ""
    assessment: str = "functional"
    crossrefs: tuple[StubCrossRef, ...] = ()


class StubCatalog(list):
    """A stand-in for harness.requirements.Catalog: requirements in catalog order."""


CATALOG = StubCatalog(
    [
        StubRequirement(
            "FS38-01",
            "Default credentials",
            "FS.38",
            statement="No universal default password.",
            crossrefs=(StubCrossRef("en303645", "5.1-1", title="Unique passwords"),),
        ),
        StubRequirement(
            "FS38-04", "Secure communication", "FS.38", crossrefs=(StubCrossRef("clp13", "6.19"),)
        ),
        StubRequirement("FS38-05", "Attack surface", "FS.38"),
        StubRequirement("FS38-07", "Logging", "FS.38"),
        StubRequirement(
            "SSU-SEC-0001",
            "Secure update",
            "FS.25",
            crossrefs=(StubCrossRef("en303645", "5.3-7"), StubCrossRef("en18031", "SUM-2")),
        ),
        StubRequirement("SSU-COM-0010", "Update cadence", "FS.25"),
    ]
)


def build_run(report_dir: Path) -> RunResult:
    """A run with one test per verdict and real evidence files under report_dir/evidence."""
    evidence = report_dir / "evidence"
    (evidence / "login").mkdir(parents=True)
    (evidence / "login" / "console.log").write_text(f"login: root\r\nPassword:\r\n# {HOSTILE}\n")
    (evidence / "tls").mkdir()
    (evidence / "tls" / "capture.pcap").write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(range(256)))
    tests = [
        TestResult(
            nodeid="testsuites/test_fs38_01.py::TestLogin::test_default_password[root::root]",
            requirements=["FS38-01"],
            crossrefs=["EN303645-5.1-1"],
            verdict=Verdict.FAIL,
            reason=f"device accepted root/root {HOSTILE}",
            evidence=["evidence/login/console.log"],
            duration_s=2.5,
        ),
        TestResult(
            nodeid="testsuites/test_fs38_04.py::test_tls",
            requirements=["FS38-04", "FS38-05"],
            crossrefs=[],
            verdict=Verdict.PASS,
            reason="",
            evidence=["evidence/tls/capture.pcap"],
            duration_s=20.0,
        ),
        TestResult(
            nodeid="testsuites/test_fs38_05.py::test_ports",
            requirements=["FS38-05"],
            crossrefs=[],
            verdict=Verdict.INCONCLUSIVE,
            reason="device unreachable: timeout after 30 s",
            evidence=[],
            duration_s=30.0,
            phase="setup",
        ),
        TestResult(
            nodeid="testsuites/test_fs38_07.py::test_syslog",
            requirements=["FS38-07"],
            crossrefs=["CLP13_6.13"],
            verdict=Verdict.NOT_APPLICABLE,
            reason="profile: device has no remote logging",
            evidence=[],
            duration_s=0.0,
        ),
        TestResult(
            nodeid="testsuites/test_fs25.py::test_signed_update",
            requirements=["SSU-SEC-0001"],
            crossrefs=[],
            verdict=Verdict.PASS,
            reason="unsigned package refused",
            evidence=[],
            duration_s=1.0,
            kind="conceptual",
        ),
    ]
    return RunResult(
        device={
            "name": "qemu-reference-vulnerable",
            "profile": "device_profiles/qemu-reference-vulnerable.yaml",
            "vendor": "hilsec project",
            "model": "Reference node",
            "firmware_version": "1.0.0-vulnerable",
        },
        started="2026-01-01T10:00:00+00:00",
        finished="2026-01-01T10:02:05+00:00",
        harness_version="0.1.0",
        tests=tests,
        requirements=requirement_results(CATALOG, tests),
    )


@pytest.fixture
def written(tmp_path: Path) -> tuple[RunResult, Path, list[Path]]:
    run = build_run(tmp_path)
    paths = write_report(run, tmp_path, catalog=CATALOG)
    return run, tmp_path, paths


def test_write_report_writes_every_format_and_sums(written):
    _, report_dir, paths = written
    names = [p.relative_to(report_dir).as_posix() for p in paths]
    assert names == [
        "results.json",
        "requirements.csv",
        "junit.xml",
        "report.html",
        "evidence/SHA256SUMS",
        "SHA256SUMS",  # the directory's manifest (harness/report/manifest.py), last
    ]
    assert all(p.is_file() for p in paths)


def test_results_json_validates_against_the_shipped_schema(written):
    run, report_dir, _ = written
    data = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(results_schema())
    jsonschema.validate(data, results_schema(), cls=jsonschema.Draft202012Validator)
    assert RunResult.from_json(data) == run
    assert data["device"]["firmware_version"] == "1.0.0-vulnerable"


def test_schema_rejects_a_bad_verdict_and_escaping_evidence(written):
    _, report_dir, _ = written
    data = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(results_schema())
    data["tests"][0]["verdict"] = "NOT_TESTED"
    data["tests"][1]["evidence"] = ["../../etc/passwd"]
    data["requirements"][0]["verdict"] = "MAYBE"
    errors = {tuple(e.absolute_path) for e in validator.iter_errors(data)}
    assert errors == {("tests", 0, "verdict"), ("tests", 1, "evidence", 0), ("requirements", 0, "verdict")}


def test_every_catalog_id_is_in_every_format_with_not_tested_rows(written):
    _, report_dir, _ = written
    data = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    assert [r["id"] for r in data["requirements"]] == [r.id for r in CATALOG]
    rows = list(csv.DictReader((report_dir / "requirements.csv").open(encoding="utf-8", newline="")))
    assert [r["id"] for r in rows] == [r.id for r in CATALOG]
    untested = next(r for r in rows if r["id"] == "SSU-COM-0010")
    assert untested["verdict"] == "NOT_TESTED"
    assert untested["tests"] == ""
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    for req in CATALOG:
        assert f'id="requirement-{req.id}"' in html


def test_csv_parses_back_with_rfc4180_quoting(written):
    run, report_dir, _ = written
    raw = (report_dir / "requirements.csv").read_bytes()
    assert raw.startswith(b"id,title,source,verdict,tests,reasons\r\n")
    rows = {r["id"]: r for r in csv.DictReader(raw.decode("utf-8").splitlines(keepends=True))}
    assert rows["FS38-05"]["verdict"] == "INCONCLUSIVE"
    assert rows["FS38-05"]["tests"].split("\n") == [
        "testsuites/test_fs38_04.py::test_tls",
        "testsuites/test_fs38_05.py::test_ports",
    ]
    reasons = rows["FS38-05"]["reasons"].split("\n")
    assert (
        reasons[1]
        == "testsuites/test_fs38_05.py::test_ports: INCONCLUSIVE: device unreachable: timeout after 30 s"
    )
    assert '<script>alert("x")</script>' in rows["FS38-01"]["reasons"]  # data kept, quoted correctly
    assert rows["FS38-01"]["source"] == "FS.38"


def test_csv_defuses_spreadsheet_formulas(tmp_path):
    run = build_run(tmp_path)
    run.requirements[0].title = '=HYPERLINK("http://x")'
    write_report(run, tmp_path, formats=("csv",))
    rows = list(csv.DictReader((tmp_path / "requirements.csv").open(encoding="utf-8", newline="")))
    assert rows[0]["title"].startswith("'=")


def test_junit_has_requirement_properties_and_verdict_elements(written):
    run, report_dir, _ = written
    root = ET.parse(report_dir / "junit.xml").getroot()
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "5",
        "1",
        "1",
        "1",
    )
    cases = suite.findall("testcase")
    assert len(cases) == len(run.tests)
    by_name = {c.get("name"): c for c in cases}
    # Named as pytest's own --junitxml names them: no requirement IDs (CI history survives a marker change).
    login = by_name["test_default_password[root::root]"]
    assert login.get("classname") == "testsuites.test_fs38_01.TestLogin"
    props = [(p.get("name"), p.get("value")) for p in login.find("properties")]
    assert ("requirement", "FS38-01") in props
    assert ("crossref", "EN303645-5.1-1") in props
    failure = login.find("failure")
    assert failure is not None and failure.get("message").startswith("device accepted root/root <script>")
    out = login.find("system-out").text
    attachment = f"[[ATTACHMENT|{(report_dir / 'evidence/login/console.log').resolve()}]]"
    assert attachment in out.splitlines()

    tls = by_name["test_tls"]
    assert [p.get("value") for p in tls.find("properties") if p.get("name") == "requirement"] == [
        "FS38-04",
        "FS38-05",
    ]
    assert tls.find("failure") is None and tls.find("error") is None and tls.find("skipped") is None
    assert by_name["test_ports"].find("error").get("type") == "INCONCLUSIVE"  # decided in setup
    skipped = by_name["test_syslog"].find("skipped")
    assert skipped.get("message") == "profile: device has no remote logging"


def test_junit_strips_characters_xml_cannot_carry(written):
    _, report_dir, _ = written
    text = (report_dir / "junit.xml").read_text(encoding="utf-8")
    assert "\x00" not in text and "\x1b" not in text
    ET.fromstring(text.encode("utf-8"))  # well-formed


@pytest.mark.parametrize(
    ("nodeid", "expected"),
    [
        ("testsuites/test_a.py::test_b", ("testsuites.test_a", "test_b")),
        ("testsuites/sub/test_a.py::TestX::test_b[x-y]", ("testsuites.sub.test_a.TestX", "test_b[x-y]")),
        ("test_a.py::test_b[a::b/c]", ("test_a", "test_b[a::b/c]")),
        ("odd", ("", "odd")),
    ],
)
def test_split_nodeid(nodeid, expected):
    assert split_nodeid(nodeid) == expected


class _Collector(HTMLParser):
    """Collects element attributes and script bodies from the report page."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.scripts = 0
        self.external: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if tag == "script":
            self.scripts += 1
        if tag in ("link", "img", "script") and (attributes.get("href") or attributes.get("src")):
            self.external.append(attributes.get("href") or attributes.get("src"))


def test_html_matrix_hooks_identity_and_summary(written):
    run, report_dir, _ = written
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    parser = _Collector()
    parser.feed(page)
    rows = [a for t, a in parser.elements if t == "tr" and (a.get("id") or "").startswith("requirement-")]
    assert [a["data-requirement"] for a in rows] == [r.id for r in run.requirements]
    cells = [
        a["data-verdict"] for t, a in parser.elements if t == "td" and "verdict" in (a.get("class") or "")
    ]
    assert cells == [r.verdict.value for r in run.requirements]
    # a browser test can count verdicts with [data-verdict=...]: only the matrix cells carry it
    assert page.count('data-verdict="NOT_TESTED"') == 1
    assert page.count('data-verdict="PASS"') == 2
    for text in (
        "qemu-reference-vulnerable",
        "hilsec project",
        "Reference node",
        "1.0.0-vulnerable",
        "0.1.0",
    ):
        assert text in page
    assert "2026-01-01T10:00:00+00:00" in page and "2m 05s" in page
    summary = {a["data-source"] for t, a in parser.elements if t == "tr" and "data-source" in a}
    assert summary == {"FS.25", "FS.38", "total"}
    assert "@media print" in page
    assert parser.external == []  # self-contained: no stylesheet, image or script fetched


def test_html_escapes_hostile_text_and_inlines_transcripts(written):
    _, report_dir, _ = written
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    parser = _Collector()
    parser.feed(page)
    assert parser.scripts == 0
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "<details>" in page and "login: root" in page  # transcript inline
    assert 'href="evidence/login/console.log"' in page
    assert 'href="evidence/tls/capture.pcap"' in page
    capture_sha = hashlib.sha256((report_dir / "evidence/tls/capture.pcap").read_bytes()).hexdigest()
    assert capture_sha in page
    assert 'data-evidence-kind="capture"' in page


def test_html_grouping_by_crossref_scheme(written):
    _, report_dir, _ = written
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    assert (
        'id="grouping-en303645"' in page and 'id="grouping-clp13"' in page and 'id="grouping-en18031"' in page
    )
    assert 'data-crossref="EN303645-5.1-1"' in page
    assert "Unique passwords (V2.1.1)" in page  # title from the catalog


def test_html_grouping_from_explicit_provisions(tmp_path):
    run = build_run(tmp_path)
    provision = ProvisionResult("EN18031-AUM-6", Verdict.NOT_TESTED, [], ["FS38-01"])
    page = render_html(run, tmp_path, groupings=[CrossRefGrouping("en18031", [provision])])
    assert 'data-crossref="EN18031-AUM-6" data-provision-verdict="NOT_TESTED"' in page
    assert "no test exercises this provision" in page


def test_html_does_not_read_evidence_outside_the_report_dir(tmp_path):
    run = build_run(tmp_path / "report")
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    run.tests[0].evidence = ["../secret.txt", str(secret)]
    page = render_html(run, tmp_path / "report")
    assert "TOP-SECRET-CONTENT" not in page
    assert page.count('data-evidence-kind="outside"') == 2


def test_secrets_never_reach_any_format(tmp_path):
    run = build_run(tmp_path)
    run.tests[0].reason = "accepted password Hs7-quartz-Velvet-9041"
    (tmp_path / "evidence/login/console.log").write_text("Password: Hs7-quartz-Velvet-9041\n")
    write_report(run, tmp_path, catalog=CATALOG, secrets=["Hs7-quartz-Velvet-9041"])
    for name in ("results.json", "requirements.csv", "junit.xml", "report.html"):
        assert "Hs7-quartz-Velvet-9041" not in (tmp_path / name).read_text(encoding="utf-8"), name


def test_sha256sums_match_the_files(written):
    _, report_dir, _ = written
    lines = (report_dir / "evidence/SHA256SUMS").read_text(encoding="utf-8").splitlines()
    listed = [line.split("  ", 1)[1] for line in lines]
    assert listed == sorted(listed) == ["login/console.log", "tls/capture.pcap"]
    for line in lines:
        digest, rel = line.split("  ", 1)
        assert hashlib.sha256((report_dir / "evidence" / rel).read_bytes()).hexdigest() == digest
    assert verify_sha256sums(report_dir) == []


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="coreutils sha256sum not installed")
def test_sha256sums_is_coreutils_format(written):
    _, report_dir, _ = written
    done = subprocess.run(
        ["sha256sum", "--strict", "-c", "SHA256SUMS"],
        cwd=report_dir / "evidence",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_sha256sums_verify_finds_tampering(written):
    _, report_dir, _ = written
    (report_dir / "evidence/login/console.log").write_text("edited")
    (report_dir / "evidence/tls/capture.pcap").unlink()
    (report_dir / "evidence/extra.txt").write_text("new")
    problems = {(p.path, p.problem) for p in verify_sha256sums(report_dir)}
    assert problems == {
        ("login/console.log", "modified"),
        ("tls/capture.pcap", "missing"),
        ("extra.txt", "not listed"),
    }


def test_sha256sums_empty_when_there_is_no_evidence(tmp_path):
    path = write_sha256sums(tmp_path)
    assert path == tmp_path / "evidence" / "SHA256SUMS"
    assert path.read_bytes() == b""
    assert verify_sha256sums(tmp_path) == []


def test_rerender_from_results_json(written):
    run, report_dir, _ = written
    out = report_dir / "rerendered"  # a sealed report is re-rendered into a new folder
    paths = rerender(report_dir, ["html", "csv"], out=out)
    assert {p.name for p in paths} == {
        "report.html",
        "requirements.csv",
        "results.json",
        "rendered-from.json",
        "SHA256SUMS",
    }
    assert 'id="requirement-FS38-01"' in (out / "report.html").read_text(encoding="utf-8")
    assert not (out / "junit.xml").exists()
    assert load_results(out) == run


def test_rerender_missing_results_is_a_config_error_naming_the_file(tmp_path):
    with pytest.raises(ConfigError) as caught:
        rerender(tmp_path, ["html"])
    assert caught.value.file == str(tmp_path / "results.json")
    assert "not found" in str(caught.value)


def test_rerender_corrupt_results_is_a_config_error(tmp_path):
    (tmp_path / "results.json").write_text('{"device": ')
    with pytest.raises(ConfigError) as caught:
        rerender(tmp_path, ["csv"])
    assert str(caught.value).startswith(f"{tmp_path / 'results.json'}: line 1: not valid JSON")


def test_rerender_malformed_results_names_the_field(written):
    _, report_dir, _ = written
    data = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    data["tests"][2]["verdict"] = "SORT_OF"
    (report_dir / "results.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError) as caught:
        rerender(report_dir, ["html"])
    assert caught.value.field == "tests[2].verdict"


def test_unknown_format_is_refused(written):
    _, report_dir, _ = written
    with pytest.raises(ConfigError):
        rerender(report_dir, ["pdf"])
    with pytest.raises(ValueError):
        write_report(build_run(report_dir / "x"), report_dir / "x", formats=("pdf",))


def test_oscal_assessment_results_validate_against_trestle_models(tmp_path):
    from trestle.oscal.assessment_results import AssessmentResults

    run = build_run(tmp_path)
    (path,) = [p for p in write_report(run, tmp_path, formats=("oscal",)) if p.suffix == ".json"]
    document = json.loads(path.read_text(encoding="utf-8"))
    model = AssessmentResults.oscal_read(path)
    assert model is not None
    (result,) = model.results
    assert len(result.observations) == len(run.tests)
    assert [f.target.target_id for f in result.findings] == [r.id for r in run.requirements]
    (device,) = result.local_definitions.components
    assert device.title == "qemu-reference-vulnerable"
    assert {p.name: p.value for p in device.props}["firmware-version"] == "1.0.0-vulnerable"
    login = result.observations[0]
    assert login.subjects[0].subject_uuid == device.uuid
    (evidence,) = login.relevant_evidence
    assert evidence.href == "evidence/login/console.log"
    digest = hashlib.sha256((tmp_path / "evidence/login/console.log").read_bytes()).hexdigest()
    assert {p.name: p.value for p in evidence.props}["sha256"] == digest
    states = {
        f.target.target_id: (f.target.status.state.value, f.target.status.reason) for f in result.findings
    }
    assert states["FS38-01"][0] == "not-satisfied"
    assert states["SSU-SEC-0001"][0] == "satisfied"
    verdicts = {f.target.target_id: {p.name: p.value for p in f.props}["verdict"] for f in result.findings}
    assert verdicts["SSU-COM-0010"] == "NOT_TESTED"
    # deterministic: the same results render to the same document
    again = json.loads(write_report(run, tmp_path, formats=("oscal",))[0].read_text(encoding="utf-8"))
    assert again == document


def test_diff_runs_reports_changed_verdicts(tmp_path):
    from harness.report.diff import diff_runs

    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    old_run = build_run(old_dir)
    write_report(old_run, old_dir, formats=("json",))
    new_run = build_run(new_dir)
    new_run.device["firmware_version"] = "1.0.1"
    new_run.tests[0].verdict = Verdict.PASS  # FS38-01 fixed
    new_run.tests[1].verdict = Verdict.FAIL  # FS38-04 and FS38-05 regress
    new_run.tests[1].reason = "<b>weak suite</b>"
    new_run.requirements = requirement_results(CATALOG, new_run.tests)[:-1]  # SSU-COM-0010 dropped
    new_run.requirements[0].title = "<script>x</script>"
    write_report(new_run, new_dir, formats=("json",))

    diff = diff_runs(old_dir / "results.json", new_dir)
    kinds = {c.id: c.kind for c in diff.changes}
    assert kinds == {
        "FS38-01": "fixed",
        "FS38-04": "regression",
        "FS38-05": "regression",
        "SSU-COM-0010": "removed",
    }
    assert diff.unchanged == 2
    text = diff.to_text()
    assert any(
        line.split() == ["FS38-04", "PASS", "->", "FAIL", "[regression]", "Secure", "communication"]
        for line in text.splitlines()
    )
    assert "firmware 1.0.1" in text and "4 changed (2 regressions), 2 unchanged" in text
    page = diff.to_html()
    assert page.count('data-kind="regression"') == 2
    assert "<script>x" not in page and "&lt;script&gt;x" in page
    same = diff_runs(old_dir, old_dir)
    assert same.changes == [] and "no requirement verdict changed" in same.to_text()


def test_diff_runs_missing_file_is_a_config_error(tmp_path):
    from harness.report.diff import diff_runs

    with pytest.raises(ConfigError):
        diff_runs(tmp_path / "nope.json", tmp_path)


def test_matrix_shows_the_short_source_name():
    from harness.report.html import short_source

    assert short_source("GSMA FS.25 v2.0 (27 Nov 2020)") == "FS.25"
    assert short_source("GSMA FS.38 device controls (harness-assigned numbering)") == "FS.38"
    assert short_source("unknown") == "unknown"


def _pool_runs(report_dir: Path) -> list[RunResult]:
    """Two devices of a pool: the same run, the second passing the EN 303 645 login test."""
    weak = build_run(report_dir)
    strong_tests = [
        dataclasses.replace(t, verdict=Verdict.PASS, reason="") if t.crossrefs == ["EN303645-5.1-1"] else t
        for t in weak.tests
    ]
    strong = dataclasses.replace(
        weak,
        device={**weak.device, "name": "board-b", "model": f"Board {HOSTILE}"},
        tests=strong_tests,
        requirements=requirement_results(CATALOG, strong_tests),
    )
    return [dataclasses.replace(weak, device={**weak.device, "name": "board-a"}), strong]


def test_a_pool_report_has_each_devices_provision_view_and_escapes_device_text(tmp_path):
    write_report(_pool_runs(tmp_path), tmp_path, catalog=CATALOG)
    pool_page = (tmp_path / "report.html").read_text(encoding="utf-8")
    row = pool_page[pool_page.index('data-crossref="EN303645-5.1-1"') :]
    row = row[: row.index("</tr>")]
    assert 'data-provision-verdict="FAIL"' in row  # fails the pool: it fails on board-a
    assert 'data-device="board-a" data-verdict="FAIL"' in row
    assert 'data-device="board-b" data-verdict="PASS"' in row
    for name, verdict in (("board-a", "FAIL"), ("board-b", "PASS")):
        page = (tmp_path / f"report-{name}.html").read_text(encoding="utf-8")
        assert f'data-crossref="EN303645-5.1-1" data-provision-verdict="{verdict}"' in page
    for name in (
        "report.html",
        "report-board-a.html",
        "report-board-b.html",
        "requirements.csv",
        "junit.xml",
    ):
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert "\x1b" not in text and "\x00" not in text, name
        assert not name.endswith(".html") or "<script>" not in text, name
    assert "\\x1b[6n" in (tmp_path / "requirements.csv").read_text(encoding="utf-8")
    phases = [
        t["phase"]
        for run in json.loads((tmp_path / "results.json").read_text())["runs"]
        for t in run["tests"]
    ]
    assert "setup" in phases  # schema 2 keeps each test's phase

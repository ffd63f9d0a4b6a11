"""junit.xml for CI servers, written by hand because pytest's xunit2 drops testcase properties.

One testsuite, one testcase per test, named exactly as pytest's own `--junitxml` names it (so CI
history survives a marker change); its requirement IDs are `<property name="requirement"
value="ID"/>` and its verdict `<property name="verdict">`. A testcase is a failure, an error or
skipped exactly where pytest's own junit.xml says so: FAIL and an INCONCLUSIVE decided in the test
itself are `<failure>` (type FAIL / INCONCLUSIVE), an INCONCLUSIVE from setup or teardown is an
`<error>`, NOT_APPLICABLE and a plain skip are `<skipped>`. Evidence files are listed in system-out
as `[[ATTACHMENT|path]]` lines (the Jenkins junit-attachments convention).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from harness.results.evidence import evidence_path_problem
from harness.results.model import RunResult, TestResult, as_runs
from harness.results.verdicts import Verdict
from harness.util.files import write_atomically
from harness.util.text import visible

JUNIT_NAME = "junit.xml"
SUITE_NAME = "hilsec"
# Characters XML 1.0 cannot carry at all (console output can hold any byte).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """Text safe for an XML 1.0 document: control characters shown as escapes (`\x1b`), and any
    other character XML 1.0 cannot carry (U+FFFE) replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", visible(text))


def split_nodeid(nodeid: str) -> tuple[str, str]:
    """pytest nodeid -> (classname, name) the way pytest's own junitxml spells them.

    "testsuites/test_a.py::TestX::test_y[p::q]" -> ("testsuites.test_a.TestX", "test_y[p::q]")
    """
    bracket = nodeid.find("[")
    head, params = (nodeid, "") if bracket < 0 else (nodeid[:bracket], nodeid[bracket:])
    parts = head.split("::")
    if len(parts) == 1:
        return "", parts[0] + params
    module = parts[0]
    if module.endswith(".py"):
        module = module[:-3]
    module = module.replace("\\", "/").strip("/").replace("/", ".")
    return ".".join([module, *parts[1:-1]]), parts[-1] + params


def write_junit(
    run: RunResult | Sequence[RunResult], report_dir: Path, *, absolute_attachments: bool = True
) -> Path:
    """Write REPORT_DIR/junit.xml: one testsuite, or one per device of a pool run.

    Attachment paths are absolute by default, as the Jenkins plugin documents them; relative
    ones (to the report dir, where junit.xml lives) suit Azure DevOps and moved report dirs.
    """
    report_dir = Path(report_dir)
    target = report_dir / JUNIT_NAME
    base = report_dir.resolve() if absolute_attachments else None
    runs = as_runs(run)
    root = ET.Element("testsuites")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    seconds = 0.0
    for device_run in runs:
        name = SUITE_NAME if len(runs) == 1 else f"{SUITE_NAME}[{device_run.device.get('name', '')}]"
        suite = _suite(root, device_run, name, base)
        for key in totals:
            totals[key] += int(suite.attrib[key])
        seconds += float(suite.attrib["time"])
    root.attrib.update({k: str(v) for k, v in totals.items()})
    root.attrib["time"] = f"{seconds:.3f}"
    ET.indent(root)
    document = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return write_atomically(target, document)


def _suite(root: ET.Element, run: RunResult, name: str, base: Path | None) -> ET.Element:
    elements = [junit_element(t) for t in run.tests]
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": xml_text(name),
            "tests": str(len(run.tests)),
            "failures": str(elements.count("failure")),
            "errors": str(elements.count("error")),
            "skipped": str(elements.count("skipped")),
            "time": f"{sum(t.duration_s for t in run.tests):.3f}",
            "timestamp": xml_text(run.started),
        },
    )
    suite_props = ET.SubElement(suite, "properties")
    for key in ("name", "vendor", "model", "firmware_version", "profile"):
        if run.device.get(key) not in (None, ""):
            _property(suite_props, f"device.{key}", str(run.device[key]))
    _property(suite_props, "harness_version", run.harness_version)
    _property(suite_props, "finished", run.finished)
    for test in run.tests:
        _testcase(suite, test, base)
    return suite


SKIP_REASON = "skipped, so not checked"  # how the plugin words a plain pytest.skip


def junit_element(test: TestResult) -> str | None:
    """ "failure", "error", "skipped" or None (passed), as pytest's junitxml classifies the test."""
    if test.verdict is Verdict.PASS:
        return None
    if test.verdict is Verdict.NOT_APPLICABLE or test.reason.startswith(SKIP_REASON):
        return "skipped"
    if test.verdict is Verdict.FAIL or test.phase == "call":
        return "failure"
    return "error"


def _testcase(suite: ET.Element, test: TestResult, base: Path | None) -> None:
    classname, name = split_nodeid(test.nodeid)
    case = ET.SubElement(
        suite,
        "testcase",
        {"classname": xml_text(classname), "name": xml_text(name), "time": f"{test.duration_s:.3f}"},
    )
    props = ET.SubElement(case, "properties")
    for req_id in test.requirements:
        _property(props, "requirement", req_id)
    for ref in test.crossrefs:
        _property(props, "crossref", ref)
    _property(props, "verdict", test.verdict.value)
    _property(props, "assessment", test.kind)
    if test.radio:
        _property(props, "radio", test.radio)
    reason = xml_text(test.reason)
    element = junit_element(test)
    if element is not None:
        ET.SubElement(case, element, {"message": reason, "type": test.verdict.value}).text = reason
    lines = [f"verdict: {test.verdict.value}"]
    if test.reason:
        lines.append(f"reason: {reason}")
    for rel in test.evidence:
        if evidence_path_problem(rel) is not None:
            continue  # a CI server would attach whatever file the path names
        path = str(base / rel) if base is not None else rel
        lines.append(f"[[ATTACHMENT|{xml_text(path)}]]")
    ET.SubElement(case, "system-out").text = "\n".join(lines) + "\n"


def _property(parent: ET.Element, name: str, value: str) -> None:
    ET.SubElement(parent, "property", {"name": name, "value": xml_text(value)})

"""junit.xml for CI servers, written by hand because pytest's xunit2 drops testcase properties.

One testsuite, one testcase per test. Each testcase names its requirement IDs in its name and
as `<property name="requirement" value="ID"/>`, so a CI dashboard can filter by requirement.
FAIL is a `<failure>`, INCONCLUSIVE an `<error>`, NOT_APPLICABLE a `<skipped>`; evidence files
are listed in system-out as `[[ATTACHMENT|path]]` lines (the Jenkins junit-attachments convention).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.results.model import RunResult, TestResult
from harness.results.verdicts import Verdict

JUNIT_NAME = "junit.xml"
SUITE_NAME = "hilsec"
# Characters XML 1.0 cannot carry at all (console output can hold any byte).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """Text safe for an XML 1.0 document: forbidden control characters become U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


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


def write_junit(run: RunResult, report_dir: Path, *, absolute_attachments: bool = True) -> Path:
    """Write REPORT_DIR/junit.xml.

    Attachment paths are absolute by default, as the Jenkins plugin documents them; relative
    ones (to the report dir, where junit.xml lives) suit Azure DevOps and moved report dirs.
    """
    report_dir = Path(report_dir)
    target = report_dir / JUNIT_NAME
    base = report_dir.resolve() if absolute_attachments else None
    counts = {v: sum(1 for t in run.tests if t.verdict is v) for v in Verdict}
    root = ET.Element("testsuites")
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": SUITE_NAME,
            "tests": str(len(run.tests)),
            "failures": str(counts[Verdict.FAIL]),
            "errors": str(counts[Verdict.INCONCLUSIVE]),
            "skipped": str(counts[Verdict.NOT_APPLICABLE]),
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
    root.attrib.update({k: suite.attrib[k] for k in ("tests", "failures", "errors", "skipped", "time")})
    ET.indent(root)
    ET.ElementTree(root).write(target, encoding="utf-8", xml_declaration=True)
    return target


def _testcase(suite: ET.Element, test: TestResult, base: Path | None) -> None:
    classname, name = split_nodeid(test.nodeid)
    if test.requirements:
        name = f"{name} [{', '.join(test.requirements)}]"
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
    if test.verdict is Verdict.FAIL:
        ET.SubElement(case, "failure", {"message": reason, "type": "FAIL"}).text = reason
    elif test.verdict is Verdict.INCONCLUSIVE:
        ET.SubElement(case, "error", {"message": reason, "type": "INCONCLUSIVE"}).text = reason
    elif test.verdict is Verdict.NOT_APPLICABLE:
        ET.SubElement(case, "skipped", {"message": reason, "type": "NOT_APPLICABLE"}).text = reason
    lines = [f"verdict: {test.verdict.value}"]
    if test.reason:
        lines.append(f"reason: {reason}")
    for rel in test.evidence:
        path = str(base / rel) if base is not None else rel
        lines.append(f"[[ATTACHMENT|{xml_text(path)}]]")
    ET.SubElement(case, "system-out").text = "\n".join(lines) + "\n"


def _property(parent: ET.Element, name: str, value: str) -> None:
    ET.SubElement(parent, "property", {"name": name, "value": xml_text(value)})

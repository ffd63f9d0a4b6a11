"""NIST OSCAL assessment-results: the run for GRC tools that import OSCAL.

Mapping: the run is one `result`; the device is a component in the result's local definitions
and the subject of every observation; each test is an `observation` (method TEST for functional
assessments, EXAMINE for conceptual ones that read the manufacturer's declarations), whose
`relevant-evidence` entries carry the evidence path and its SHA-256; each requirement verdict is a
`finding` targeting the requirement ID. OSCAL knows only satisfied / not-satisfied, so the exact
hilsec verdict rides along as a `verdict` property in the urn:hilsec:oscal namespace: only PASS
is "satisfied"; FAIL is not-satisfied with reason "fail"; INCONCLUSIVE, NOT_APPLICABLE and
NOT_TESTED are not-satisfied with reason "other" (read the property before counting them as
failures). UUIDs are derived from the run, so rendering the same results.json twice gives the
same document.

The document is plain JSON built here; compliance-trestle's models validate it in the tests.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.report.json_report import json_text
from harness.report.sums import sha256_file
from harness.results.evidence import evidence_file
from harness.results.model import RunResult, TestResult, as_runs
from harness.results.verdicts import Verdict
from harness.util.files import write_atomically

OSCAL_NAME = "oscal-assessment-results.json"
OSCAL_VERSION = "1.2.1"
NAMESPACE = "urn:hilsec:oscal"
_UUID_NAMESPACE = uuid.UUID("8f4a7f52-33a1-5d0e-9a3c-6b1e2f0c4d11")


def write_oscal(run: RunResult | list[RunResult], report_dir: Path) -> Path:
    """Write REPORT_DIR/oscal-assessment-results.json; a pool run gives one OSCAL result per device."""
    target = Path(report_dir) / OSCAL_NAME
    runs = as_runs(run)
    documents = [assessment_results(device_run, Path(report_dir)) for device_run in runs]
    document = documents[0]
    if len(documents) > 1:
        body = document["assessment-results"]
        body["metadata"]["title"] = "hilsec security assessment results: " + ", ".join(
            _line(str(r.device.get("name", ""))) for r in runs
        )
        body["results"] = [d["assessment-results"]["results"][0] for d in documents]
        body["back-matter"]["resources"] = [
            res for d in documents for res in d["assessment-results"]["back-matter"]["resources"]
        ]
    return write_atomically(target, json_text(document))


def assessment_results(run: RunResult, report_dir: Path | None = None) -> dict[str, Any]:
    """The OSCAL document as a dict; with report_dir, evidence files are hashed."""
    ids = _Ids(run)
    device = run.device
    device_name = str(device.get("name") or "device under test")
    component_uuid = ids.make("component", device_name)
    plan_uuid = ids.make("resource", "plan")
    observations = [_observation(test, ids, component_uuid, run, report_dir) for test in run.tests]
    findings = [_finding(req, run, ids) for req in run.requirements]
    result: dict[str, Any] = {
        "uuid": ids.make("result", "run"),
        "title": f"hilsec run against {device_name}",
        "description": (
            f"GSMA FS.25 and FS.38 requirement verdicts for {device_name}, "
            f"produced by hilsec {run.harness_version}."
        ),
        "start": _aware(run.started),
        "end": _aware(run.finished),
        "local-definitions": {"components": [_component(device, component_uuid, device_name)]},
        "reviewed-controls": {
            "control-selections": [
                {"include-controls": [{"control-id": _token(req.id)} for req in run.requirements]}
                if run.requirements
                else {"include-all": {}}
            ]
        },
    }
    if observations:
        result["observations"] = observations
    if findings:
        result["findings"] = findings
    return {
        "assessment-results": {
            "uuid": ids.make("assessment-results", "document"),
            "metadata": {
                "title": f"hilsec security assessment results: {device_name}",
                "last-modified": _aware(run.finished),
                "version": run.harness_version or "unknown",
                "oscal-version": OSCAL_VERSION,
                "props": _props({"harness-version": run.harness_version}),
            },
            "import-ap": {
                "href": f"#{plan_uuid}",
                "remarks": "hilsec has no separate assessment plan: its requirement catalog and the "
                "device profile (back-matter) play that part.",
            },
            "results": [result],
            "back-matter": {"resources": [_plan_resource(plan_uuid, device)]},
        }
    }


class _Ids:
    """Deterministic UUIDs (version 5) scoped to one run."""

    def __init__(self, run: RunResult) -> None:
        self._scope = f"{run.device.get('name', '')}|{run.started}"

    def make(self, kind: str, key: str) -> str:
        return str(uuid.uuid5(_UUID_NAMESPACE, f"{self._scope}|{kind}|{key}"))


def _component(device: dict, component_uuid: str, name: str) -> dict[str, Any]:
    description = " ".join(str(device[k]) for k in ("vendor", "model") if device.get(k)) or name
    component = {
        "uuid": component_uuid,
        "type": "hardware",
        "title": _line(name),
        "description": f"Device under test: {description}",
        "status": {"state": "operational"},
    }
    props = _props(
        {
            "vendor": device.get("vendor"),
            "model": device.get("model"),
            "firmware-version": device.get("firmware_version"),
            "device-profile": device.get("profile"),
        }
    )
    if props:
        component["props"] = props
    return component


def _observation(
    test: TestResult, ids: _Ids, component_uuid: str, run: RunResult, report_dir: Path | None
) -> dict[str, Any]:
    observation: dict[str, Any] = {
        "uuid": ids.make("observation", test.nodeid),
        "title": _line(test.nodeid),
        "description": f"{test.verdict.value}: {test.reason}" if test.reason else test.verdict.value,
        "props": _props(
            {
                "verdict": test.verdict.value,
                "nodeid": test.nodeid,
                "requirements": " ".join(test.requirements),
                "crossrefs": " ".join(test.crossrefs),
                "assessment": test.kind,
            }
        ),
        "methods": ["EXAMINE" if test.kind == "conceptual" else "TEST"],
        "subjects": [{"subject-uuid": component_uuid, "type": "component"}],
        "collected": _aware(run.finished),
    }
    evidence = [_evidence(rel, report_dir) for rel in test.evidence]
    if evidence:
        observation["relevant-evidence"] = evidence
    return observation


def _evidence(rel: str, report_dir: Path | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"href": rel, "description": f"Evidence file {rel} (relative to the report)"}
    path = evidence_file(report_dir, rel) if report_dir is not None else None
    if path is not None:
        digest = sha256_file(path)
        entry["props"] = _props({"sha256": digest, "size": str(path.stat().st_size)})
    return entry


def _finding(req: Any, run: RunResult, ids: _Ids) -> dict[str, Any]:
    tests = run.tests_by_nodeid()
    if req.verdict is Verdict.PASS:
        status = {"state": "satisfied", "reason": "pass"}
    elif req.verdict is Verdict.FAIL:
        status = {"state": "not-satisfied", "reason": "fail"}
    else:
        remark = f"hilsec verdict {req.verdict.value}"
        status = {"state": "not-satisfied", "reason": "other", "remarks": remark}
    lines = [f"{req.verdict.value} ({req.source})"]
    for nodeid in req.tests:
        test = tests.get(nodeid)
        if test is not None:
            lines.append(f"- {nodeid}: {test.verdict.value}" + (f": {test.reason}" if test.reason else ""))
    if not req.tests:
        lines.append("No test covers this requirement.")
    finding: dict[str, Any] = {
        "uuid": ids.make("finding", req.id),
        "title": _line(f"{req.id}: {req.title}"),
        "description": "\n".join(lines),
        "props": _props(
            {"verdict": req.verdict.value, "source": req.source, "crossrefs": " ".join(req.crossrefs)}
        ),
        "target": {"type": "objective-id", "target-id": _token(req.id), "status": status},
    }
    related = [{"observation-uuid": ids.make("observation", n)} for n in req.tests if n in tests]
    if related:
        finding["related-observations"] = related
    return finding


def _plan_resource(plan_uuid: str, device: dict) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "uuid": plan_uuid,
        "title": "hilsec requirement catalog and device profile",
        "description": "The requirements assessed (GSMA FS.25 SSU-* and harness-numbered FS38-* IDs, with "
        "cross references to ETSI EN 303 645, EN 18031-1 and GSMA CLP.13) and the device profile "
        "that served as the manufacturer's information for testing (IXIT).",
    }
    if device.get("profile"):
        resource["rlinks"] = [{"href": str(device["profile"])}]
    return resource


def _props(values: dict[str, Any]) -> list[dict[str, str]]:
    """OSCAL properties in the hilsec namespace; empty values are left out (OSCAL forbids them)."""
    props = []
    for name, value in values.items():
        text = _line(str(value)).strip() if value not in (None, "") else ""
        if text:
            props.append({"name": name, "ns": NAMESPACE, "value": text})
    return props


def _line(text: str) -> str:
    """OSCAL titles and property values are single lines."""
    return " ".join(text.split()) or "-"


def _token(text: str) -> str:
    """An OSCAL token (starts with a letter or underscore; letters, digits, '.', '-', '_')."""
    token = "".join(c if c.isalnum() or c in "._-" else "_" for c in text)
    return token if token[:1].isalpha() or token[:1] == "_" else f"_{token}"


def _aware(timestamp: str) -> str:
    """ISO 8601 with a UTC offset, as OSCAL requires; a naive time is taken as UTC."""
    try:
        moment = datetime.fromisoformat(timestamp)
    except (TypeError, ValueError):
        moment = datetime.fromtimestamp(0, UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()

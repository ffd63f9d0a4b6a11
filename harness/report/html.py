"""report.html: one self-contained page a certification engineer reads, archives or prints to PDF.

No external assets (inline CSS only), so the page can be mailed or archived alone next to
evidence/. Every text that came from a device or a test passes Jinja2's autoescaping. The matrix
carries stable hooks for browser tests: `id="requirement-<ID>"` on each row and
`data-verdict="<VERDICT>"` on each verdict cell.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup, escape

from harness.results.evidence import evidence_path_problem, open_evidence
from harness.results.model import (
    ProvisionResult,
    RunResult,
    crossref_label,
    crossref_scheme,
    provision_results,
    redact,
)
from harness.results.verdicts import Verdict
from harness.util.files import write_atomically
from harness.util.text import visible

HTML_NAME = "report.html"
TEMPLATE_NAME = "report.html.j2"
SCHEME_TITLES = {
    "en303645": "ETSI EN 303 645",
    "en18031": "EN 18031-1:2024",
    "clp13": "GSMA CLP.13",
    "ts103701": "ETSI TS 103 701 test units",
}
INLINE_LIMIT = 64 * 1024  # bytes of a text transcript shown inline; the link always has it all
TEXT_SUFFIXES = {".log", ".txt", ".out", ".json", ".yaml", ".yml", ".csv", ".xml", ".conf", ".md", ".pem"}
CAPTURE_SUFFIXES = {".pcap", ".pcapng", ".cap"}


@dataclass
class CrossRefGrouping:
    """The provisions of one scheme (e.g. EN 303 645), each judged only by the tests that name it."""

    scheme: str
    provisions: Sequence[ProvisionResult]
    titles: Mapping[str, str] = field(default_factory=dict)  # provision ID -> its title
    share: str = ""  # ts103701: the automated share over the network-threat units


@dataclass
class EvidenceView:
    path: str
    href: str | None
    kind: str  # "text" | "capture" | "file" | "missing" | "outside"
    sha256: str = ""
    size: int = 0
    content: str | None = None
    truncated: bool = False


def grouping_for(run: RunResult, scheme: str, catalog: Iterable[Any] | None = None) -> CrossRefGrouping:
    """The grouping for one scheme: every provision the run's requirements cite or its tests name.

    A provision's verdict comes only from tests whose marker names it: one that is only cited is
    NOT_TESTED, with the requirements citing it shown beside. With a catalog, titles are shown, and
    for TS 103 701 every network-threat unit is listed with the automated share.
    """
    titles: dict[str, str] = {}
    include: list[str] = []
    crossrefs = (
        catalog.crossrefs()
        if hasattr(catalog, "crossrefs")
        else [ref for req in catalog or () for ref in getattr(req, "crossrefs", ())]
    )
    for ref in crossrefs:
        label = crossref_label(ref)
        if crossref_scheme(label) == scheme and getattr(ref, "title", ""):
            version = getattr(ref, "version", "")
            titles[label] = f"{ref.title} ({version})" if version and scheme != "ts103701" else ref.title
            if getattr(ref, "network", False):
                include.append(label)
    provisions = provision_results(run, scheme, include=include)
    share = ""
    if include:
        judged = [p for p in provisions if p.id in include and p.tests]
        share = (
            f"{len(judged)} of {len(include)} network-threat test units exercised by this run's tests "
            f"({100.0 * len(judged) / len(include):.0f} %)"
        )
    return CrossRefGrouping(scheme=scheme, provisions=provisions, titles=titles, share=share)


def write_html(
    run: RunResult,
    report_dir: Path,
    *,
    groupings: Sequence[CrossRefGrouping] = (),
    catalog: Iterable[Any] | None = None,
    secrets: Sequence[str] = (),
    evidence_root: Path | None = None,
    name: str = HTML_NAME,
) -> Path:
    """Write REPORT_DIR/report.html (or `name`, a pool device's page), atomically; evidence files
    are read from REPORT_DIR (or `evidence_root`, the run's own folder when re-rendering elsewhere)
    to inline transcripts."""
    report_dir = Path(report_dir)
    target = report_dir / name
    source = Path(evidence_root) if evidence_root is not None else report_dir
    page = render_html(run, source, groupings=groupings, catalog=catalog, secrets=secrets)
    return write_atomically(target, page, errors="backslashreplace")


def render_html(
    run: RunResult,
    report_dir: Path,
    *,
    groupings: Sequence[CrossRefGrouping] = (),
    catalog: Iterable[Any] | None = None,
    secrets: Sequence[str] = (),
) -> str:
    """The page as text. Inlined transcripts are redacted again with `secrets` (defence in depth:
    the console already redacts what it records)."""
    statements = {}
    for req in catalog or ():
        statements[req.id] = {
            "statement": getattr(req, "statement", ""),
            "provenance": getattr(req, "provenance", ""),
            "assessment": getattr(req, "assessment", ""),
        }
    evidence_cache: dict[str, EvidenceView] = {}

    def evidence(rel: str) -> EvidenceView:
        if rel not in evidence_cache:
            view = _evidence_view(report_dir, rel)
            if view.content is not None and secrets:
                view.content = redact(view.content, secrets)
            evidence_cache[rel] = view
        return evidence_cache[rel]

    tests = run.tests_by_nodeid()
    covered = {nodeid for req in run.requirements for nodeid in req.tests}
    verdicts = {req.id: req.verdict.value for req in run.requirements}
    context = {
        "run": run,
        "device": run.device,
        "duration": _duration(run.started, run.finished),
        "verdict_names": [v.value for v in Verdict],
        "summary": run.summary(),
        "requirements": run.requirements,
        "tests": tests,
        "test_count": len(run.tests),
        "test_counts": {v.value: sum(1 for t in run.tests if t.verdict is v) for v in Verdict},
        "uncovered_tests": [t for t in run.tests if t.nodeid not in covered],
        "statements": statements,
        "evidence": evidence,
        "groupings": [
            {
                "scheme": g.scheme,
                "title": SCHEME_TITLES.get(g.scheme, g.scheme),
                "share": g.share,
                "groups": [
                    {
                        "id": p.id,
                        "title": g.titles.get(p.id, ""),
                        "verdict": p.verdict.value,
                        "tests": list(p.tests),
                        "requirements": list(p.cited_by),
                    }
                    for p in g.provisions
                ],
            }
            for g in groupings
        ],
        "verdicts": verdicts,
    }
    return _environment().get_template(TEMPLATE_NAME).render(context)


@functools.cache
def _environment() -> jinja2.Environment:
    """One environment for the process: it compiles the template once (0.1 to 0.7 s) and keeps it."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("harness.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["anchor"] = _anchor
    env.filters["short_source"] = short_source
    env.filters["breakable"] = breakable
    return env


def short_source(source: str) -> str:
    """ "FS.25" for "GSMA FS.25 v2.0 (27 Nov 2020)": the matrix column stays narrow."""
    found = re.search(r"\bFS\.\d+\b", source)
    return found.group(0) if found else source


def breakable(text: str) -> Markup:
    """Escaped text with line-break chances after "/" and "::", so a narrow (printed) column wraps
    a pytest node ID between its parts rather than inside a word."""
    escaped = str(escape(text))
    return Markup(re.sub(r"(/|::)", r"\1<wbr>", escaped))


def _anchor(text: str) -> str:
    """A value safe for an HTML id/href fragment that stays readable for catalog IDs."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def _evidence_view(report_dir: Path, rel: str) -> EvidenceView:
    posix = PurePosixPath(rel)
    if evidence_path_problem(rel) is not None:
        return EvidenceView(path=rel, href=None, kind="outside")
    href = quote(posix.as_posix())
    handle = open_evidence(report_dir, rel)  # None for a symlink: its target is never inlined
    if handle is None:
        path = report_dir / Path(*posix.parts)
        if os.path.lexists(path) or any(p.is_symlink() for p in path.parents):
            return EvidenceView(path=rel, href=None, kind="outside")
        return EvidenceView(path=rel, href=href, kind="missing")
    digest = hashlib.sha256()
    head = b""
    size = 0
    with handle:
        while chunk := handle.read(1 << 20):
            if len(head) <= INLINE_LIMIT:
                head += chunk[: INLINE_LIMIT + 1 - len(head)]
            digest.update(chunk)
            size += len(chunk)
    view = EvidenceView(path=rel, href=href, kind="file", sha256=digest.hexdigest(), size=size)
    suffix = posix.suffix.lower()
    if suffix in CAPTURE_SUFFIXES:
        view.kind = "capture"
    elif suffix in TEXT_SUFFIXES or _looks_like_text(head):
        view.kind = "text"
        view.truncated = size > INLINE_LIMIT
        # Terminal escapes from the device are shown as `\x1b[...`, not hidden by the browser.
        view.content = visible(head[:INLINE_LIMIT].decode("utf-8", errors="replace"))
    return view


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head[:INLINE_LIMIT].decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start >= INLINE_LIMIT - 4  # only a character cut at the limit
    return True


def _duration(started: str, finished: str) -> str:
    try:
        seconds = (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
    except (ValueError, TypeError):
        return ""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


POOL_TEMPLATE_NAME = "pool.html.j2"


def device_page_name(name: str) -> str:
    """The file name of one pool device's own report page."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "device"
    return f"report-{safe}.html"


def write_pool_html(
    runs: Sequence[RunResult], report_dir: Path, pages: Mapping[str, str], schemes: Sequence[str] = ()
) -> Path:
    """Write REPORT_DIR/report.html for a pool run: one column per device, linking each device's
    page, and for each of `schemes` its provisions per device (each device's own page has the
    provision's tests)."""
    from harness.results.model import pool_provisions, pool_requirements

    groupings = [
        {
            "scheme": scheme,
            "title": SCHEME_TITLES.get(scheme, scheme),
            "provisions": pool_provisions(runs, scheme),
        }
        for scheme in schemes
    ]

    devices = [
        {
            "name": str(run.device.get("name", "")),
            "model": str(run.device.get("model") or ""),
            "firmware": str(run.device.get("firmware_version") or ""),
            "tests": len(run.tests),
            "href": pages[str(run.device.get("name", ""))],
        }
        for run in runs
    ]
    page = (
        _environment()
        .get_template(POOL_TEMPLATE_NAME)
        .render(
            devices=devices,
            requirements=pool_requirements(runs),
            groupings=groupings,
            harness_version=runs[0].harness_version,
            started=min(r.started for r in runs),
            finished=max(r.finished for r in runs),
        )
    )
    return write_atomically(Path(report_dir) / HTML_NAME, page, errors="backslashreplace")

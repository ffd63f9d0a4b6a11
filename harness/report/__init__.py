"""Report writers: one module per format, all reading the same `RunResult`.

`write_report` is what the plugin calls at the end of a run; `rerender` is what
`hilsec report DIR --format ...` calls to produce formats again from results.json.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.report.csv_report import write_csv
from harness.report.html import CrossRefGrouping, grouping_for, write_html
from harness.report.json_report import RESULTS_NAME, write_json
from harness.report.junit import write_junit
from harness.report.sums import verify_sha256sums, write_sha256sums
from harness.results.model import CROSSREF_SCHEMES, ResultFormatError, RunResult, crossref_scheme

DEFAULT_FORMATS = ("json", "csv", "junit", "html")
RECORD_FORMATS = ("json", "oscal")  # machine records: the text as it was (JSON escapes it safely)

__all__ = [
    "DEFAULT_FORMATS",
    "FORMATS",
    "CrossRefGrouping",
    "load_results",
    "rerender",
    "verify_sha256sums",
    "write_report",
]


def _html(run: RunResult, report_dir: Path, options: dict[str, Any]) -> Path:
    catalog = options.get("catalog")
    schemes = options.get("group_by")
    if schemes is None:  # default: every scheme the run's requirements cite or its tests name
        cited = {crossref_scheme(ref) for req in run.requirements for ref in req.crossrefs}
        cited |= {crossref_scheme(ref) for test in run.tests for ref in test.crossrefs}
        schemes = [s for s in CROSSREF_SCHEMES.values() if s in cited]
    groupings = [grouping_for(run, scheme, catalog) for scheme in schemes]
    return write_html(run, report_dir, groupings=groupings, catalog=catalog, secrets=options["secrets"])


def _oscal(run: RunResult, report_dir: Path, options: dict[str, Any]) -> Path:
    from harness.report.oscal import write_oscal  # optional format: imported only when asked for

    return write_oscal(run, report_dir)


FORMATS: dict[str, Callable[[RunResult, Path, dict[str, Any]], Path]] = {
    "json": lambda run, report_dir, options: write_json(run, report_dir),
    "csv": lambda run, report_dir, options: write_csv(run, report_dir),
    "junit": lambda run, report_dir, options: write_junit(run, report_dir),
    "html": _html,
    "oscal": _oscal,
}


def write_report(
    run: RunResult,
    report_dir: Path,
    formats: Sequence[str] = DEFAULT_FORMATS,
    catalog: Iterable[Any] | None = None,
    *,
    secrets: Sequence[str] = (),
    group_by: Sequence[str] | None = None,
) -> list[Path]:
    """Write the asked-for formats and evidence/SHA256SUMS (always) into report_dir.

    `secrets` (the profile's passwords and keys) are scrubbed from every text before any writer
    sees it. `group_by` names cross-reference schemes ("en303645", "en18031", "clp13") to group the
    HTML report by; None groups by every scheme the run cites, () by none.
    Returns the written paths, SHA256SUMS last.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report format {unknown[0]!r}; expected one of {', '.join(FORMATS)}")
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    run = run.redacted(secrets)
    shown = run.visible()  # what a person reads: device text's control characters as escapes
    catalog = list(catalog) if catalog is not None else None
    options = {"catalog": catalog, "secrets": list(secrets), "group_by": group_by}
    written = [
        FORMATS[name](run if name in RECORD_FORMATS else shown, report_dir, options)
        for name in dict.fromkeys(formats)
    ]
    written.append(write_sha256sums(report_dir))
    return written


def load_results(report_dir: Path) -> RunResult:
    """Read REPORT_DIR/results.json; a missing or malformed file is a ConfigError naming it."""
    path = Path(report_dir) / RESULTS_NAME
    expected = "the results.json that `hilsec run` or `pytest --report-dir` writes"
    if not Path(report_dir).is_dir():
        raise ConfigError(report_dir, "", "is not a directory", "a report directory")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found", expected) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(path, "", f"cannot be read ({error})", expected) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(path, f"line {error.lineno}", f"not valid JSON ({error.msg})", expected) from None
    try:
        return RunResult.from_json(data)
    except ResultFormatError as error:
        raise ConfigError(path, error.field, error.problem, expected) from None


def rerender(
    report_dir: Path,
    formats: Sequence[str],
    catalog: Iterable[Any] | None = None,
    *,
    group_by: Sequence[str] | None = None,
) -> list[Path]:
    """Render formats again from REPORT_DIR/results.json (for `hilsec report DIR --format ...`)."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ConfigError(
            report_dir, "--format", f"unknown report format {unknown[0]!r}", f"one of {', '.join(FORMATS)}"
        )
    run = load_results(report_dir)
    if catalog is None:
        catalog = _catalog_if_available()
    return write_report(run, report_dir, formats, catalog, group_by=group_by)


def _catalog_if_available() -> list[Any] | None:
    """The requirement catalog for statements and cross-reference titles; reports work without it."""
    try:
        from harness.requirements import load_catalog
    except ImportError:
        return None
    try:
        return list(load_catalog())
    except Exception:  # a broken catalog must not stop re-rendering recorded results
        return None

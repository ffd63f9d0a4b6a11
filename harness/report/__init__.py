"""Report writers: one module per format, all reading the same `RunResult`.

`write_report` is what the plugin calls at the end of a run (and seals the directory with its
manifest, see manifest.py); `rerender` is what `hilsec report DIR --format ...` calls to produce
formats again from results.json, into a new folder when DIR is sealed.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.report.csv_report import write_csv
from harness.report.html import (
    HTML_NAME,
    CrossRefGrouping,
    device_page_name,
    grouping_for,
    write_html,
    write_pool_html,
)
from harness.report.json_report import RESULTS_NAME, write_json
from harness.report.junit import write_junit
from harness.report.manifest import RENDERED_FROM_NAME, is_sealed, rendered_from, write_manifest
from harness.report.sums import verify_sha256sums, write_sha256sums
from harness.results.model import (
    CROSSREF_SCHEMES,
    ResultFormatError,
    RunResult,
    as_runs,
    crossref_scheme,
    runs_from_json,
)
from harness.util.files import write_atomically

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


def _html(runs: list[RunResult], report_dir: Path, options: dict[str, Any]) -> Path:
    if len(runs) == 1:
        return _html_page(runs[0], report_dir, HTML_NAME, options)
    pages = {}
    for run in runs:
        name = str(run.device.get("name", ""))
        pages[name] = device_page_name(name)
        _html_page(run, report_dir, pages[name], options)
    return write_pool_html(runs, report_dir, pages, _grouping_schemes(runs, options))


def _grouping_schemes(runs: list[RunResult], options: dict[str, Any]) -> list[str]:
    """The schemes asked for, or by default every scheme the runs' requirements cite or tests name."""
    if options.get("group_by") is not None:
        return list(options["group_by"])
    cited = {crossref_scheme(ref) for run in runs for req in run.requirements for ref in req.crossrefs}
    cited |= {crossref_scheme(ref) for run in runs for test in run.tests for ref in test.crossrefs}
    return [s for s in CROSSREF_SCHEMES.values() if s in cited]


def _html_page(run: RunResult, report_dir: Path, name: str, options: dict[str, Any]) -> Path:
    """One device's page, with the provision views of the schemes asked for (default: all it cites)."""
    catalog = options.get("catalog")
    groupings = [grouping_for(run, scheme, catalog) for scheme in _grouping_schemes([run], options)]
    return write_html(
        run,
        report_dir,
        groupings=groupings,
        catalog=catalog,
        secrets=options["secrets"],
        evidence_root=options.get("evidence_root"),
        name=name,
    )


def _oscal(runs: list[RunResult], report_dir: Path, options: dict[str, Any]) -> Path:
    from harness.report.oscal import write_oscal  # optional format: imported only when asked for

    return write_oscal(runs, report_dir)


FORMATS: dict[str, Callable[[list[RunResult], Path, dict[str, Any]], Path]] = {
    "json": lambda run, report_dir, options: write_json(run, report_dir),
    "csv": lambda run, report_dir, options: write_csv(run, report_dir),
    "junit": lambda run, report_dir, options: write_junit(run, report_dir),
    "html": _html,
    "oscal": _oscal,
}


def write_report(
    run: RunResult | Sequence[RunResult],
    report_dir: Path,
    formats: Sequence[str] = DEFAULT_FORMATS,
    catalog: Iterable[Any] | None = None,
    *,
    secrets: Sequence[str] = (),
    group_by: Sequence[str] | None = None,
    signing_key: Any = None,
) -> list[Path]:
    """Write the asked-for formats, evidence/SHA256SUMS and the directory's manifest (always).

    `secrets` (the profile's passwords and keys) are scrubbed from every text before any writer
    sees it. `group_by` names cross-reference schemes ("en303645", "en18031", "clp13") to group the
    HTML report by; None groups by every scheme the run cites, () by none.
    `signing_key` (an Ed25519 private key, the lab config's `signing.key`) signs the manifest.
    Returns the written paths: the formats, evidence/SHA256SUMS, then SHA256SUMS (and its signature).
    """
    written = _render(as_runs(run), Path(report_dir), formats, catalog, secrets, group_by)
    written.append(write_sha256sums(report_dir))
    written += write_manifest(report_dir, signing_key)
    return written


def _render(
    runs: list[RunResult],
    report_dir: Path,
    formats: Sequence[str],
    catalog: Iterable[Any] | None,
    secrets: Sequence[str],
    group_by: Sequence[str] | None,
    evidence_root: Path | None = None,
) -> list[Path]:
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report format {unknown[0]!r}; expected one of {', '.join(FORMATS)}")
    report_dir.mkdir(parents=True, exist_ok=True)
    runs = [run.redacted(secrets) for run in runs]
    shown = [
        run.visible() for run in runs
    ]  # what a person reads: device text's control characters as escapes
    catalog = list(catalog) if catalog is not None else None
    options = {
        "catalog": catalog,
        "secrets": list(secrets),
        "group_by": group_by,
        "evidence_root": evidence_root,
    }
    return [
        FORMATS[name](runs if name in RECORD_FORMATS else shown, report_dir, options)
        for name in dict.fromkeys(formats)
    ]


def load_results(report_dir: Path) -> RunResult:
    """Read REPORT_DIR/results.json of one device's run (a pool run: its first device)."""
    return load_runs(report_dir)[0]


def load_runs(report_dir: Path) -> list[RunResult]:
    """Read REPORT_DIR/results.json: its device runs; a missing or malformed file is a ConfigError."""
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
        return runs_from_json(data)
    except ResultFormatError as error:
        raise ConfigError(path, error.field, error.problem, expected) from None


def rerender(
    report_dir: Path,
    formats: Sequence[str],
    catalog: Iterable[Any] | None = None,
    *,
    group_by: Sequence[str] | None = None,
    out: Path | None = None,
    signing_key: Any = None,
) -> list[Path]:
    """Render formats again from REPORT_DIR/results.json (for `hilsec report DIR --format ...`).

    A sealed directory (its SHA256SUMS written by the run) is never re-sealed by someone else:
    re-rendering there is refused; `out` renders into a new folder instead, with a copy of
    results.json, rendered-from.json and that folder's own manifest (signed with `signing_key`).
    A results.json whose requirement verdicts do not follow from its tests' is refused.
    """
    from harness import __version__
    from harness.results.consistency import rollup_problems

    report_dir = Path(report_dir)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ConfigError(
            report_dir, "--format", f"unknown report format {unknown[0]!r}", f"one of {', '.join(FORMATS)}"
        )
    runs = load_runs(report_dir)
    problems = [line for run in runs for line in rollup_problems(run)]
    if problems:
        raise ConfigError(
            report_dir / RESULTS_NAME, "requirements", problems[0], "verdicts rolled up from the tests"
        )
    if catalog is None:
        catalog = _catalog_if_available()
    if out is None:
        if is_sealed(report_dir):
            raise ConfigError(
                report_dir,
                "--out",
                "is sealed by its SHA256SUMS; re-rendering in place would change what the run's manifest proves",
                "--out NEWDIR to render into a new folder with its own manifest",
            )
        return _render(runs, report_dir, formats, catalog, (), group_by)
    out = Path(out)
    if out.resolve() == report_dir.resolve() or (out.exists() and any(out.iterdir())):
        raise ConfigError(out, "--out", "is the report directory or not empty", "a new or empty folder")
    written = _render(runs, out, formats, catalog, (), group_by, evidence_root=report_dir)
    shutil.copyfile(report_dir / RESULTS_NAME, out / RESULTS_NAME)
    when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    write_atomically(
        out / RENDERED_FROM_NAME, rendered_from(report_dir, list(dict.fromkeys(formats)), __version__, when)
    )
    written += [out / RESULTS_NAME, out / RENDERED_FROM_NAME]
    written += write_manifest(out, signing_key)
    return written


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

"""report.html as a browser renders it: headless Chromium opens the written report and the tests
check what it laid out (not the source text), print it to PDF, and keep a screenshot for CI.

Needs the Debian packages `chromium` and `poppler-utils` (pdftotext); without them these tests
fail with the install command rather than skip, because CI installs both.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from browser import (
    DEBIAN_PACKAGES,
    BrowserError,
    DevToolsPage,
    file_url,
    find_chromium,
    png_size,
    print_to_pdf,
)

from harness.report import write_report
from harness.requirements import load_catalog
from harness.results.model import RunResult, TestResult, requirement_results
from harness.results.verdicts import Verdict

ARTIFACTS = Path(__file__).resolve().parents[1] / "build" / "artifacts"
SCREENSHOT_NAME = "report-screenshot.png"
PDF_NAME = "report.pdf"
TRANSCRIPT = "evidence/test_fs38_01-default-password/console.log"
CAPTURE = "evidence/test_fs38_04-tls/capture.pcap"
TRANSCRIPT_TEXT = (
    "hilsec: serial console transcript (ttyS0, 115200 8N1)\n"
    "\n"
    "Welcome to Buildroot\n"
    "node login: root\n"
    "Password: \n"
    "# id\n"
    "uid=0(root) gid=0(root) groups=0(root)\n"
    "# cat /etc/os-release | head -1\n"
    'NAME="Reference node"\n'
)
HOSTILE_REASON = 'device accepted root/root; banner said <script>alert("x")</script>'

# What each catalog requirement must roll up to; every other catalog entry is NOT_TESTED.
EXPECTED_VERDICTS = {
    "FS38-01": Verdict.FAIL,
    "FS38-04": Verdict.PASS,
    "FS38-05": Verdict.INCONCLUSIVE,  # one PASS test and one INCONCLUSIVE test
    "FS38-07": Verdict.NOT_APPLICABLE,
    "SSU-SEC-0001": Verdict.PASS,
    "SSU-SEC-0030": Verdict.FAIL,
    "SSU-COM-0040": Verdict.PASS,
}


def write_small_pcap(path: Path) -> None:
    """A valid little-endian pcap holding one Ethernet/IPv4/UDP datagram to port 5684 (CoAPS)."""
    payload = bytes.fromhex("16fefd0000000000000000002f") + bytes(47)  # DTLS 1.2 handshake record header
    udp = struct.pack(">HHHH", 49152, 5684, 8 + len(payload), 0) + payload
    ip_header = struct.pack(
        ">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, bytes([10, 0, 2, 15]), bytes([10, 0, 2, 2])
    )
    frame = bytes(6) + bytes.fromhex("525400123456") + b"\x08\x00" + ip_header + udp
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    record = struct.pack("<IIII", 1767261600, 0, len(frame), len(frame))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + record + frame)


def build_run(report_dir: Path) -> RunResult:
    """A run over the real catalog with a test of every test verdict and real evidence files."""
    (report_dir / TRANSCRIPT).parent.mkdir(parents=True, exist_ok=True)
    (report_dir / TRANSCRIPT).write_text(TRANSCRIPT_TEXT, encoding="utf-8")
    write_small_pcap(report_dir / CAPTURE)

    def test(nodeid: str, reqs: list[str], verdict: Verdict, reason: str = "", **extra) -> TestResult:
        return TestResult(
            nodeid=f"testsuites/{nodeid}",
            requirements=reqs,
            crossrefs=extra.pop("crossrefs", []),
            verdict=verdict,
            reason=reason,
            evidence=extra.pop("evidence", []),
            duration_s=extra.pop("duration_s", 1.5),
            kind=extra.pop("kind", "functional"),
        )

    tests = [
        test(
            "fs38/test_fs38_01.py::test_default_password[root::root]",
            ["FS38-01"],
            Verdict.FAIL,
            HOSTILE_REASON,
            crossrefs=["EN303645-5.1-1"],
            evidence=[TRANSCRIPT],
            duration_s=4.2,
        ),
        test(
            "fs38/test_fs38_04.py::test_tls_everywhere",
            ["FS38-04", "FS38-05"],
            Verdict.PASS,
            evidence=[CAPTURE],
        ),
        test(
            "fs38/test_fs38_05.py::test_open_ports",
            ["FS38-05"],
            Verdict.INCONCLUSIVE,
            "nmap timed out after 120 s",
        ),
        test(
            "fs38/test_fs38_07.py::test_remote_syslog",
            ["FS38-07"],
            Verdict.NOT_APPLICABLE,
            "profile: no logging",
        ),
        test(
            "fs25/test_update.py::test_signed_update",
            ["SSU-SEC-0001"],
            Verdict.PASS,
            "unsigned image refused",
        ),
        test(
            "fs25/test_policy.py::test_support_period",
            ["SSU-SEC-0030"],
            Verdict.FAIL,
            "profile declares 24 months of security updates; 36 are required",
            kind="conceptual",
        ),
        test("fs25/test_update.py::test_patch_level_visible", ["SSU-COM-0040"], Verdict.PASS),
    ]
    return RunResult(
        device={
            "name": "qemu-reference-vulnerable",
            "profile": "device_profiles/qemu-reference-vulnerable.yaml",
            "vendor": "hilsec project",
            "model": "Reference node (QEMU virt)",
            "firmware_version": "1.0.0-vulnerable",
        },
        started="2026-01-01T10:00:00+00:00",
        finished="2026-01-01T10:02:05+00:00",
        harness_version="0.1.0",
        tests=tests,
        requirements=requirement_results(load_catalog(), tests),
    )


def require_tools() -> None:
    """Fail (not skip) with the install command when the browser or pdftotext is missing."""
    install = f"CI installs them with: apt-get install -y {' '.join(DEBIAN_PACKAGES)}"
    try:
        find_chromium()
        missing = ""
    except BrowserError as error:
        missing = str(error)
    if missing:
        pytest.fail(f"{missing}\n{install}", pytrace=False)
    if shutil.which("pdftotext") is None or shutil.which("pdfinfo") is None:
        pytest.fail(f"pdftotext and pdfinfo (poppler-utils) read the printed PDF.\n{install}", pytrace=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, Path]:
    report_dir = tmp_path_factory.mktemp("browser-report")
    run = build_run(report_dir)
    write_report(run, report_dir, catalog=load_catalog())
    return run, report_dir


# The facts the tests check, read from the laid-out page in one pass per media type.
RENDERED_FACTS_JS = r"""
(() => {
  const shown = (el) => el.checkVisibility() && el.getBoundingClientRect().height > 0;
  const rows = [...document.querySelectorAll('#matrix tbody tr[id^="requirement-"]')];
  const cells = [...document.querySelectorAll('#matrix [data-verdict]')];
  const summary = {};
  for (const row of document.querySelectorAll('#summary tr[data-source]')) {
    if (!shown(row)) continue;
    const counts = [...row.querySelectorAll('[data-count-verdict]')];
    summary[row.dataset.source] = Object.fromEntries(
      counts.map((td) => [td.dataset.countVerdict, Number(td.innerText)]));
  }
  const transcripts = [...document.querySelectorAll('li[data-evidence-kind="text"] pre')];
  const captures = [...document.querySelectorAll('li[data-evidence-kind="capture"]')];
  return {
    title: document.title,
    scripts: document.scripts.length,
    rowIds: rows.filter(shown).map((r) => r.dataset.requirement),
    verdictCells: cells.filter(shown).map((c) => ({
      verdict: c.dataset.verdict, text: c.innerText.trim(),
      color: getComputedStyle(c).color, background: getComputedStyle(c).backgroundColor})),
    summary,
    device: Object.fromEntries([...document.querySelectorAll('#device dd[data-field]')]
      .filter(shown).map((dd) => [dd.dataset.field, dd.innerText.trim()])),
    transcripts: transcripts.map((pre) => ({text: pre.textContent, visible: shown(pre),
      link: pre.closest('li').querySelector('a').getAttribute('href')})),
    captures: captures.map((li) => ({href: li.querySelector('a').getAttribute('href'),
      visible: shown(li), inline: li.querySelector('pre') !== null, text: li.innerText})),
    reasons: [...document.querySelectorAll('.reason')].filter(shown).map((r) => r.innerText),
    overflowX: document.documentElement.scrollWidth - window.innerWidth,
  };
})()
"""

OPEN_TRANSCRIPTS_JS = """
(() => {
  const details = [...document.querySelectorAll('li[data-evidence-kind="text"] details')];
  for (const d of details) d.querySelector('summary').click();
  return details.filter((d) => d.open).length;
})()
"""


@pytest.fixture(scope="module")
def rendered(report: tuple[RunResult, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Open report.html in headless Chromium once: facts on screen, facts in print, a screenshot."""
    require_tools()
    _, report_dir = report
    shots = tmp_path_factory.mktemp("browser-artifacts")
    with DevToolsPage(file_url(report_dir / "report.html"), width=1280, height=900) as page:
        screen = page.evaluate(RENDERED_FACTS_JS)
        screenshot = page.screenshot(shots / SCREENSHOT_NAME, full_page=True)
        viewport = page.screenshot(shots / "report-viewport.png", full_page=False)
        opened = page.evaluate(OPEN_TRANSCRIPTS_JS)
        after_click = page.evaluate(RENDERED_FACTS_JS)
        page.evaluate(OPEN_TRANSCRIPTS_JS)  # close them again: print must show them regardless
        page.emulate_print()
        printed = page.evaluate(RENDERED_FACTS_JS)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(screenshot, ARTIFACTS / SCREENSHOT_NAME)
    return {
        "screen": screen,
        "after_click": after_click,
        "opened": opened,
        "print": printed,
        "screenshot": screenshot,
        "viewport": viewport,
    }


def expected_counts(run: RunResult) -> dict[str, int]:
    counts = Counter({v.value: 0 for v in Verdict})
    for req in run.requirements:
        counts[EXPECTED_VERDICTS.get(req.id, Verdict.NOT_TESTED).value] += 1
    return dict(counts)


def test_chromium_and_pdftotext_are_installed():
    require_tools()


def test_matrix_renders_every_catalog_requirement_in_order(report, rendered):
    run, _ = report
    catalog_ids = [req.id for req in load_catalog()]
    assert rendered["screen"]["rowIds"] == catalog_ids
    assert [r.id for r in run.requirements] == catalog_ids


def test_rendered_verdict_counts_match_the_run(report, rendered):
    run, _ = report
    cells = rendered["screen"]["verdictCells"]
    assert len(cells) == len(run.requirements)
    assert all(cell["text"] == cell["verdict"] for cell in cells)
    counted = Counter(cell["verdict"] for cell in cells)
    want = expected_counts(run)
    assert {v: counted.get(v, 0) for v in want} == want
    assert (want["FAIL"], want["PASS"], want["INCONCLUSIVE"], want["NOT_APPLICABLE"]) == (2, 3, 1, 1)
    by_id = dict(zip(rendered["screen"]["rowIds"], (c["verdict"] for c in cells), strict=True))
    for req_id, verdict in EXPECTED_VERDICTS.items():
        assert by_id[req_id] == verdict.value


def test_rendered_summary_per_source_matches_the_run(report, rendered):
    run, _ = report
    summary = rendered["screen"]["summary"]
    assert summary["total"] == expected_counts(run)
    assert set(summary) == {req.source for req in load_catalog()} | {"total"}
    assert summary == run.summary()


def test_each_verdict_is_colour_coded_distinctly(rendered):
    """Five verdicts, five distinct (text, background) colour pairs: the matrix reads at a glance."""
    styles = {
        cell["verdict"]: (cell["color"], cell["background"]) for cell in rendered["screen"]["verdictCells"]
    }
    assert set(styles) == {v.value for v in Verdict}
    assert len(set(styles.values())) == len(Verdict)
    assert all(background not in ("rgba(0, 0, 0, 0)", "transparent") for _, background in styles.values())


def test_device_identity_and_run_metadata_render(rendered):
    device = rendered["screen"]["device"]
    assert device["name"] == "qemu-reference-vulnerable"
    assert device["firmware_version"] == "1.0.0-vulnerable"
    assert device["vendor"] == "hilsec project"
    assert device["started"] == "2026-01-01T10:00:00+00:00"
    assert "2m 05s" in device["finished"]
    assert device["harness_version"] == "hilsec 0.1.0"
    assert rendered["screen"]["title"] == "hilsec report: qemu-reference-vulnerable"


def test_transcript_is_shown_inline_and_capture_is_linked(rendered):
    screen, after_click = rendered["screen"], rendered["after_click"]
    assert [t["link"] for t in screen["transcripts"]] == [TRANSCRIPT]
    assert screen["transcripts"][0]["text"] == TRANSCRIPT_TEXT  # the whole file, in the page
    assert rendered["opened"] == 1
    assert after_click["transcripts"][0]["visible"]  # one click on "Show transcript" shows it
    assert len(screen["captures"]) == 2  # the PASS test is shown under both requirements it covers
    for capture in screen["captures"]:
        assert capture["href"] == CAPTURE and capture["visible"] and not capture["inline"]
        assert "packet capture" in capture["text"]


def test_printed_page_shows_transcripts_without_a_click(rendered):
    printed = rendered["print"]
    assert printed["transcripts"][0]["visible"]
    assert printed["rowIds"] == rendered["screen"]["rowIds"]
    assert len(printed["verdictCells"]) == len(rendered["screen"]["verdictCells"])


def test_hostile_reason_renders_as_text_not_markup(rendered):
    assert rendered["screen"]["scripts"] == 0
    assert any(HOSTILE_REASON in reason for reason in rendered["screen"]["reasons"])


def test_page_fits_the_window_width(rendered):
    assert rendered["screen"]["overflowX"] <= 0


def test_screenshot_is_saved_and_kept_for_ci(rendered):
    width, height = png_size(rendered["screenshot"])
    assert width == 1280 and height > 900  # the whole page, not just the first screen
    assert png_size(rendered["viewport"]) == (1280, 900)
    kept = ARTIFACTS / SCREENSHOT_NAME
    assert kept.read_bytes() == rendered["screenshot"].read_bytes()


def test_print_to_pdf_produces_a_readable_document(report, tmp_path):
    require_tools()
    run, report_dir = report
    pdf = print_to_pdf(report_dir / "report.html", tmp_path / PDF_NAME)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 10_000
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    for req in run.requirements:
        assert req.id in text
    assert "uid=0(root) gid=0(root)" in text  # the transcript is printed, not hidden in a <details>
    assert "1.0.0-vulnerable" in text
    pages = subprocess.run(
        ["pdfinfo", str(pdf)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert int(next(line.split()[-1] for line in pages.splitlines() if line.startswith("Pages:"))) >= 2
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pdf, ARTIFACTS / PDF_NAME)

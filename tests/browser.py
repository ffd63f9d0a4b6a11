"""Drive the system's headless Chromium for the report's browser tests, with no browser download.

Two ways in, both bounded by timeouts:
- `print_to_pdf` runs the plain `chromium --headless --print-to-pdf` command line, exactly what a
  user would run to archive the report.
- `DevToolsPage` speaks the DevTools protocol over `--remote-debugging-pipe` (NUL-terminated JSON
  on file descriptors 3 and 4), so a test can ask the rendered page questions (layout, computed
  styles) and take a full-page screenshot without any WebSocket client or WebDriver.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import struct
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser")
CHROMIUM_ENV = "HILSEC_CHROMIUM"  # an explicit browser binary, e.g. /usr/bin/chromium
DEBIAN_PACKAGES = ("chromium", "poppler-utils")  # the browser; pdftotext for the PDF check
# Root in a container with a closed network: no sandbox, no GPU, nothing phoning home.
HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--mute-audio",
)
COMMAND_TIMEOUT_S = 30.0
LAUNCH_TIMEOUT_S = 60.0


class BrowserError(RuntimeError):
    """Chromium is missing, did not answer in time, or reported a DevTools error."""


def find_chromium() -> str:
    """The Chromium binary to use; a BrowserError that says how to install it if there is none."""
    explicit = os.environ.get(CHROMIUM_ENV)
    if explicit:
        if not (Path(explicit).is_file() and os.access(explicit, os.X_OK)):
            raise BrowserError(f"{CHROMIUM_ENV}={explicit} is not an executable file")
        return explicit
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserError(
        "headless Chromium is needed for the report's browser tests but none was found on PATH "
        f"(looked for {', '.join(CHROMIUM_NAMES)}; or set {CHROMIUM_ENV}). "
        "Install it with: apt-get install -y chromium"
    )


def file_url(path: Path) -> str:
    return Path(path).resolve().as_uri()


def print_to_pdf(html: Path, pdf: Path, *, timeout_s: float = LAUNCH_TIMEOUT_S) -> Path:
    """Print an HTML file to PDF with the `--print-to-pdf` command line; returns the PDF path."""
    pdf = Path(pdf)
    pdf.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hilsec-chromium-") as profile:
        command = [
            find_chromium(),
            *HEADLESS_FLAGS,
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}",
            file_url(html),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise BrowserError(f"chromium --print-to-pdf did not finish within {timeout_s:.0f} s") from None
    if done.returncode != 0 or not pdf.is_file():
        raise BrowserError(f"chromium --print-to-pdf failed (exit {done.returncode}): {done.stderr[-2000:]}")
    return pdf


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; ValueError if the file is not a PNG."""
    head = Path(path).read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError(f"{path} is not a PNG file")
    width, height = struct.unpack(">II", head[16:24])
    return width, height


class DevToolsPage:
    """One page in a private headless Chromium, driven over the DevTools pipe.

    Use as a context manager: `with DevToolsPage(url) as page: page.evaluate("1 + 1")`.
    """

    def __init__(
        self, url: str, *, width: int = 1280, height: int = 900, timeout_s: float = LAUNCH_TIMEOUT_S
    ):
        self.url = url
        self.width = width
        self.height = height
        self.timeout_s = timeout_s
        self._profile: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._to_browser = -1
        self._from_browser = -1
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        self._next_id = 0
        self._session: str | None = None

    def __enter__(self) -> DevToolsPage:
        try:
            self._launch()
            self._open_page()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression evaluated in the rendered page."""
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"JavaScript error in {expression[:80]!r}: {text}")
        return reply["result"].get("value")

    def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        """Save a PNG of the viewport or of the whole page (capped at Chromium's 16384 px)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params["captureBeyondViewport"] = True
            params["clip"] = {
                "x": 0,
                "y": 0,
                "width": max(self.width, int(size["width"])),
                "height": min(int(size["height"]), 16384),
                "scale": 1,
            }
        data = self.send("Page.captureScreenshot", params)["data"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def emulate_print(self) -> None:
        """Apply the page's @media print rules to what evaluate() and screenshot() see."""
        self.send("Emulation.setEmulatedMedia", {"media": "print"})

    def send(self, method: str, params: dict[str, Any] | None = None, *, browser: bool = False) -> dict:
        """Send one DevTools command (to the page unless `browser`) and return its result."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if self._session and not browser:
            message["sessionId"] = self._session
        self._write(message)
        deadline = time.monotonic() + COMMAND_TIMEOUT_S
        while True:
            reply = self._read(deadline, f"the reply to {method}")
            if reply.get("id") == message["id"]:
                if "error" in reply:
                    raise BrowserError(f"{method} failed: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)

    def wait_for_event(self, method: str, *, timeout_s: float = COMMAND_TIMEOUT_S) -> dict:
        """The next event named `method` (already queued ones first)."""
        for index, event in enumerate(self._events):
            if event["method"] == method:
                return self._events.pop(index)
        deadline = time.monotonic() + timeout_s
        while True:
            message = self._read(deadline, f"the event {method}")
            if message.get("method") == method:
                return message
            if "method" in message:
                self._events.append(message)

    def close(self) -> None:
        """Ask Chromium to quit, kill it if it does not, and remove its throwaway profile."""
        process = self._process
        if process is not None and process.poll() is None:
            try:
                self._write({"id": 0, "method": "Browser.close", "params": {}})
                process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                process.kill()
                process.wait(timeout=10)
        for fd in (self._to_browser, self._from_browser):
            if fd >= 0:
                os.close(fd)
        self._to_browser = self._from_browser = -1
        self._process = None
        if self._profile is not None:
            self._profile.cleanup()
            self._profile = None

    def _launch(self) -> None:
        binary = find_chromium()
        self._profile = tempfile.TemporaryDirectory(prefix="hilsec-chromium-")
        browser_reads, self._to_browser = os.pipe()
        self._from_browser, browser_writes = os.pipe()

        def wire_pipes() -> None:  # in the child: the protocol wants fd 3 (commands in), fd 4 (out)
            high_in = fcntl.fcntl(browser_reads, fcntl.F_DUPFD, 10)
            high_out = fcntl.fcntl(browser_writes, fcntl.F_DUPFD, 10)
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)

        try:
            self._process = subprocess.Popen(
                [
                    binary,
                    *HEADLESS_FLAGS,
                    f"--user-data-dir={self._profile.name}",
                    "--remote-debugging-pipe",
                    f"--window-size={self.width},{self.height}",
                    "about:blank",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                close_fds=False,  # Python's own fds are non-inheritable; only 0-4 reach Chromium
                preexec_fn=wire_pipes,  # noqa: PLW1509 (single-threaded test process)
            )
        finally:
            os.close(browser_reads)
            os.close(browser_writes)

    def _open_page(self) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, browser=True)["targetId"]
        attached = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}, browser=True)
        self._session = attached["sessionId"]
        self.send("Page.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
        )
        self._events.clear()
        self.send("Page.navigate", {"url": self.url})
        self.wait_for_event("Page.loadEventFired", timeout_s=self.timeout_s)

    def _write(self, message: dict[str, Any]) -> None:
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")

    def _read(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(
                    f"Chromium sent nothing within the timeout while waiting for {waiting_for}"
                )
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                code = self._process.poll() if self._process else None
                raise BrowserError(
                    f"Chromium closed the DevTools pipe (exit {code}) while waiting for {waiting_for}"
                )
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

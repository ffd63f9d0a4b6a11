"""A stand-in for a network PDU: a tiny HTTP server speaking labgrid's `simplerest` power model.

A lab's place has a power resource on a real PDU; here the outlet is the bench twin's power
switch (its QEMU started and killed). labgrid's simplerest model asks `GET {host}` with `{index}`
and `{value}` filled in: `.../outlet/0/1` switches outlet 0 on, `.../outlet/0/0` off, and
`.../outlet/0` reads it ("1" or "0"). Only the test fixtures use this module.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_PATH = re.compile(r"^/outlet/(\d+)(?:/([01]))?/?$")


class PduStandIn:
    """Outlet 0 runs `switch(True|False)`; `url` is the NetworkPowerPort `host` for the exporter."""

    def __init__(self, switch: Callable[[bool], None], is_on: Callable[[], bool]) -> None:
        self.switch, self.is_on = switch, is_on
        self.requests: list[str] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                owner.requests.append(self.path)
                match = _PATH.match(self.path)
                if match is None or match.group(1) != "0":
                    self.send_error(404, "no such outlet")
                    return
                try:
                    with owner._lock:
                        if match.group(2) is not None:
                            owner.switch(match.group(2) == "1")
                        body = b"1" if owner.is_on() else b"0"
                except Exception as err:  # the switch failed: the PDU says so, as a real one would
                    self.send_error(500, f"outlet 0 failed: {err}"[:200])
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="pdu-standin", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/outlet/{{index}}/{{value}}"

    def start(self) -> PduStandIn:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

"""The lab's stand-ins for the operator's and the manufacturer's update servers (SSU-TES-0020).

One lab service, two real HTTP servers on their own ports: a device's update check asks
`GET /latest` and gets `version=...` lines. Each server keeps its own access log (time, client,
path), which is how a test sees which server a device's check reached. A test makes one server
unreachable by closing its listening socket (a refused connection, as when a server is down)
and brings it back on the same port afterwards. A check the harness itself starts on the device is
noted (`note_harness_check`), so a test waiting for the device's own scheduled check can leave it out.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING

from harness.lab.services.bounded_http import (
    BoundedHandler,
    BoundedHTTPServer,
    RequestLog,
    serve_in_background,
    short_path,
    stop_serving,
)
from harness.lab.side import LabSide

if TYPE_CHECKING:
    from pathlib import Path

    from harness.lab.services.base import LabEndpoints

LAB_SERVER_SCHEME = "hilsec-lab://"  # a declared server the lab itself runs: hilsec-lab://update-servers/ROLE
OPERATOR = "operator"
MANUFACTURER = "manufacturer"
ROLES = (OPERATOR, MANUFACTURER)
LATEST_VERSION = "1.0.4"  # what both servers offer: the profiles' update manifest version
HARNESS_CHECKS_KEPT = 1000  # the newest (start, end) windows of checks the harness started


@dataclass(frozen=True)
class AccessLogEntry:
    """One request a server answered."""

    time: float
    client: str
    path: str
    status: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class _CheckServer:
    """One update server: answers /latest, logs every request, can be taken down and brought back."""

    def __init__(self, role: str, bind_address: str, port: int = 0, side: LabSide | None = None) -> None:
        self.role = role
        self.bind_address = bind_address
        self.port = port  # 0 until the first start picks one; the same port after a restart
        self.side = side or LabSide()
        self.access_log: RequestLog[AccessLogEntry] = RequestLog()
        self._server: BoundedHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def reachable(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        if self._server is not None:
            return
        with self.side.entered():  # a restart (after make_unreachable) binds on the lab side too
            self._server = BoundedHTTPServer((self.bind_address, self.port), self._handler())
        self.port = int(self._server.server_address[1])
        self._thread = serve_in_background(self._server, f"update-{self.role}")

    def stop(self) -> None:
        stop_serving(self._server, self._thread)
        self._server, self._thread = None, None

    def requests_since(self, since: float) -> list[AccessLogEntry]:
        return [entry for entry in self.access_log.entries() if entry.time >= since]

    def _record(self, entry: AccessLogEntry) -> None:
        self.access_log.append(entry)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BoundedHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                found = self.path.split("?", 1)[0] == "/latest"
                status = HTTPStatus.OK if found else HTTPStatus.NOT_FOUND
                entry = AccessLogEntry(
                    time.time(), self.client_address[0], short_path(self.path), int(status)
                )
                server._record(entry)
                if not found:
                    self.send_error(status)
                    return
                body = f"version={LATEST_VERSION}\nsecurity_only=yes\nserver={server.role}\n".encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


class UpdateCheckServers:
    """The operator's and the manufacturer's update servers, as one lab service."""

    name = "update-servers"

    @classmethod
    def wanted(cls, profile) -> bool:
        """Only for a device whose profile points its update checks at the lab's stand-ins."""
        policy = profile.update_policy
        declared = (policy.operator_update_server or "", policy.manufacturer_update_server or "")
        return any(url.startswith(LAB_SERVER_SCHEME) for url in declared)

    def __init__(self) -> None:
        self.servers: dict[str, _CheckServer] = {}
        self._facing = ""
        self._harness_checks: deque[tuple[float, float]] = deque(maxlen=HARNESS_CHECKS_KEPT)

    def start(self, workdir: Path, endpoints: LabEndpoints) -> None:
        self._facing = endpoints.device_facing_address
        self.servers = {
            role: _CheckServer(
                role, endpoints.bind_address, endpoints.port(f"update_check_{role}_port"), endpoints.side
            )
            for role in ROLES
        }
        for server in self.servers.values():
            server.start()

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()

    def boot_arguments(self) -> list[str]:
        return [f"hilsec.update_{role}={self.address(role)}" for role in self.servers]

    def address(self, role: str) -> str:
        """HOST:PORT the device uses for the server of `role`."""
        return f"{self._facing}:{self.servers[role].port}"

    def make_unreachable(self, role: str) -> None:
        """Take the server of `role` down: connections to its port are refused."""
        self.servers[role].stop()

    def restore(self, role: str) -> None:
        """Bring the server of `role` back on the same port."""
        self.servers[role].start()

    def reachable(self, role: str) -> bool:
        return self.servers[role].reachable

    def requests_since(self, role: str, since: float) -> list[AccessLogEntry]:
        """Requests the server of `role` answered at or after `since` (time.time())."""
        return self.servers[role].requests_since(since)

    def note_harness_check(self, start: float, end: float) -> None:
        """The harness had the device check for updates from `start` to `end` (time.time()): the
        requests in that window were asked for, not the device's own."""
        self._harness_checks.append((start, end))

    def harness_checks(self) -> list[tuple[float, float]]:
        """The (start, end) windows of the checks the harness started, oldest first."""
        return list(self._harness_checks)

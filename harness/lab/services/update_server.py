"""The lab's update server: a real HTTP server the device downloads crafted packages from.

It is a lab service (see harness.lab.services.base): started before the device boots, it tells the
reference image where it is with `hilsec.update_server=HOST:PORT`. Tests publish packages by
name and hand the device the URL; requests are logged for the evidence (the last MAX_LOGGED of
them; see harness.lab.services.bounded_http for the bounds on connections).
"""

from __future__ import annotations

import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING

from harness.lab.services.bounded_http import (
    BoundedHandler,
    BoundedHTTPServer,
    RequestLog,
    serve_in_background,
    short_path,
    stop_serving,
)

if TYPE_CHECKING:
    from harness.lab.services.base import LabEndpoints


class UpdateServer:
    """Serves the packages in `<workdir>/update-server/` over HTTP."""

    name = "updates"

    @classmethod
    def wanted(cls, profile) -> bool:
        return profile.features.has("software_update") is not False

    def __init__(self) -> None:
        self.directory: Path | None = None
        self.port = 0
        self.requests: RequestLog[str] = RequestLog()
        self._facing = ""
        self._server: BoundedHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self, workdir: Path, endpoints: LabEndpoints) -> None:
        self.directory = workdir / "update-server"
        self.directory.mkdir(parents=True, exist_ok=True)
        self._facing = endpoints.device_facing_address
        self._server = BoundedHTTPServer(
            (endpoints.bind_address, endpoints.port("update_http_port")), self._handler()
        )
        self.port = int(self._server.server_address[1])
        self._thread = serve_in_background(self._server, "update-server")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BoundedHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                name = self.path.lstrip("/")
                server.requests.append(f"GET {short_path(self.path)} from {self.client_address[0]}")
                path = server.directory / name if server.directory else None
                if not name or "/" in name or path is None or not path.is_file():
                    self.send_error(HTTPStatus.NOT_FOUND)
                    return
                data = path.read_bytes()
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def stop(self) -> None:
        stop_serving(self._server, self._thread)
        self._server, self._thread = None, None

    def boot_arguments(self) -> list[str]:
        return [f"hilsec.update_server={self._facing}:{self.port}"]

    def publish(self, filename: str, data: bytes) -> str:
        """Make `data` downloadable as `filename`; the URL the device fetches it from."""
        if self.directory is None:
            raise RuntimeError("the update server is not started")
        if "/" in filename or filename.startswith("."):
            raise ValueError(f"unsafe package file name {filename!r}")
        (self.directory / filename).write_bytes(data)
        return f"http://{self._facing}:{self.port}/{filename}"

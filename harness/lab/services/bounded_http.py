"""An HTTP server for the lab that a device cannot exhaust: bounded connections, time and logs.

http.server's ThreadingHTTPServer starts one thread per connection and waits on an idle one for
ever, so a device that opens connections and sends nothing holds a thread each (300 idle
connections held 300 threads). Here a connection beyond MAX_CONNECTIONS is closed at once, a
read that stays idle for IDLE_TIMEOUT_S ends the connection, and no connection lives longer than
MAX_LIFETIME_S however slowly it trickles bytes. What a server remembers of its requests is a
RequestLog: the last MAX_LOGGED entries, each path cut to MAX_PATH characters.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Generic, TypeVar

MAX_CONNECTIONS = 32
IDLE_TIMEOUT_S = 10.0
MAX_LIFETIME_S = 300.0  # long enough to download an update package over a slow bench link
MAX_LOGGED = 2000
MAX_PATH = 2048
STOP_TIMEOUT_S = 5.0  # how long stop_serving waits for the serving thread

Entry = TypeVar("Entry")


class RequestLog(Generic[Entry]):
    """The last `limit` entries, and how many older ones were forgotten."""

    def __init__(self, limit: int = MAX_LOGGED) -> None:
        self._entries: deque[Entry] = deque(maxlen=limit)
        self._lock = threading.Lock()
        self.dropped = 0

    def append(self, entry: Entry) -> None:
        with self._lock:
            if len(self._entries) == self._entries.maxlen:
                self.dropped += 1
            self._entries.append(entry)

    def entries(self) -> list[Entry]:
        with self._lock:
            return list(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, index: int) -> Entry:
        return self.entries()[index]

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries())


def short_path(path: str) -> str:
    """A request path as the log keeps it: at most MAX_PATH characters."""
    return path if len(path) <= MAX_PATH else path[:MAX_PATH] + f"...({len(path) - MAX_PATH} more)"


class BoundedHandler(BaseHTTPRequestHandler):
    """A request handler whose reads time out (StreamRequestHandler applies `timeout`) and that
    never writes to stderr."""

    timeout = IDLE_TIMEOUT_S

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's name)
        return


class BoundedHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with a bound on concurrent connections and on each one's lifetime."""

    daemon_threads = True
    request_queue_size = 64  # the listen backlog: connections over the bound are closed, not queued

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        *,
        max_connections: int = MAX_CONNECTIONS,
        max_lifetime: float = MAX_LIFETIME_S,
    ) -> None:
        super().__init__(address, handler)
        self.max_lifetime = max_lifetime
        self.refused = 0  # connections closed because max_connections were open
        self.expired = 0  # connections ended because they outlived max_lifetime
        self.aborted = 0  # connections the client broke off (reset, closed before the answer)
        self.errors = 0  # requests a handler raised on: a harness bug, counted, the server lives on
        self._slots = threading.BoundedSemaphore(max_connections)
        self._open: dict[socket.socket, float] = {}
        self._open_lock = threading.Lock()

    @property
    def open_connections(self) -> int:
        with self._open_lock:
            return len(self._open)

    def process_request(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        if not self._slots.acquire(blocking=False):
            self.refused += 1
            self.shutdown_request(request)
            return
        with self._open_lock:
            self._open[request] = time.monotonic()
        try:
            super().process_request(request, client_address)
        except RuntimeError:  # no thread to spare
            self._forget(request)
            self.refused += 1
            self.shutdown_request(request)

    def process_request_thread(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._forget(request)

    def _forget(self, request: socket.socket) -> None:
        with self._open_lock:
            known = self._open.pop(request, None) is not None
        if known:
            self._slots.release()

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        """socketserver prints a traceback to stderr here; count instead (no device text on the terminal)."""
        if isinstance(sys.exc_info()[1], OSError):
            self.aborted += 1
        else:
            self.errors += 1

    def service_actions(self) -> None:
        """Called by serve_forever between polls: end connections older than max_lifetime."""
        now = time.monotonic()
        with self._open_lock:
            old = [conn for conn, started in self._open.items() if now - started > self.max_lifetime]
        for conn in old:
            self.expired += 1
            try:
                conn.shutdown(socket.SHUT_RDWR)  # the handler's read returns; its thread ends
            except OSError:
                pass


def serve_in_background(server: BoundedHTTPServer, name: str) -> threading.Thread:
    """Serve `server` on a daemon thread of its own, so a lab service answers while tests run."""
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return thread


def stop_serving(server: BoundedHTTPServer | None, thread: threading.Thread | None) -> None:
    """Stop what serve_in_background started: shut down, close the socket, join (bounded)."""
    if server is not None:
        server.shutdown()
        server.server_close()
    if thread is not None:
        thread.join(STOP_TIMEOUT_S)

"""A stand-in for a SCPI callbox (no R&S CMW here): a real TCP server on localhost that answers
queries with an instrument's recorded answers and records every line it got. It serves both the
raw-socket path (HOST:PORT) and the VISA path (pyvisa-py's TCPIP::HOST::PORT::SOCKET).

`answers` maps a query (the line, ending in `?`) to its answer or a list played in turn (the last
repeated). `SYSTem:ERRor?` answers `0,"No error"` unless `errors` maps a command just received to
the error the instrument queued for it. Hostile modes: `oversized` answers every query with more
than the client's limit and no line end; `silent` never answers.
"""

from __future__ import annotations

import socket
import threading

NO_ERROR = '0,"No error"'
CMW_IDN = "Rohde&Schwarz,CMW,1201.0002k50/171787,3.7.171"


class ScpiCallboxStandIn:
    def __init__(self, answers: dict[str, str | list[str]], *, errors: dict[str, str] | None = None,
                 mode: str = "recorded") -> None:  # fmt: skip
        self.answers = {q: list(a) if isinstance(a, list) else [a] for q, a in answers.items()}
        self.errors = dict(errors or {})
        self.mode = mode
        self.lines: list[str] = []
        self._queued: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.visa_resource = f"TCPIP::127.0.0.1::{self.port}::SOCKET"
        self._closed = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _answer(self, query: str) -> str:
        if query == "SYSTem:ERRor?":
            return self._queued.pop(0) if self._queued else NO_ERROR
        replies = self.answers.get(query, ["0"])
        return replies.pop(0) if len(replies) > 1 else replies[0]

    def _serve(self) -> None:
        while not self._closed:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(connection,), daemon=True).start()

    def _session(self, connection: socket.socket) -> None:
        buffer = b""
        with connection:
            while True:
                try:
                    data = connection.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                buffer += data
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    text = line.decode().strip()
                    self.lines.append(text)
                    if text in self.errors:
                        self._queued.append(self.errors[text])
                    if not text.endswith("?") or self.mode == "silent":
                        continue
                    try:
                        if self.mode == "oversized":
                            connection.sendall(b"9" * (256 * 1024))
                        else:
                            connection.sendall(self._answer(text).encode() + b"\n")
                    except OSError:
                        return

    def close(self) -> None:
        self._closed = True
        self._server.close()

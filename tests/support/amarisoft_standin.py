"""A stand-in for an Amarisoft Callbox's remote API (no Callbox here): a real WebSocket server on
localhost that greets and answers with recorded messages, as the LTEMME/LTEIMS documentation
shows them, and records every request it got.

`answers` maps a request's `message` to the response (or a list of responses, played in turn,
the last repeated). The response gets the request's `message_id`. `events` are sent before the
response to the first request whose name they are keyed by (e.g. a `registration` event before
the `ue_get` answer). Hostile modes for the failure tests: `oversized` answers with a message
larger than the client's limit, `junk` with text that is not JSON, `silent` never answers.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

READY_MME = {"message": "ready", "type": "MME", "name": "MME", "version": "2025-12-12"}
READY_IMS = {"message": "ready", "type": "IMS", "name": "IMS", "version": "2025-12-12"}


class AmarisoftRemoteApiStandIn:
    """One component's remote API (MME or IMS) on ws://127.0.0.1:PORT/."""

    def __init__(self, greeting: dict[str, Any], answers: dict[str, Any] | None = None, *,
                 events: dict[str, list[dict[str, Any]]] | None = None, mode: str = "recorded") -> None:  # fmt: skip
        self.greeting = greeting
        self.answers = {name: list(a) if isinstance(a, list) else [a] for name, a in (answers or {}).items()}
        self.events = {name: list(e) for name, e in (events or {}).items()}
        self.mode = mode
        self.received: list[dict[str, Any]] = []
        self.origins: list[str | None] = []
        self._server = serve(self._session, "127.0.0.1", 0, max_size=None, compression=None)
        self.url = f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        name = str(request.get("message"))
        queue = self.answers.get(name) or [{"message": name, "error": f"stand-in has no recording of {name}"}]
        answer = dict(queue.pop(0) if len(queue) > 1 else queue[0])
        return {"message": name, **answer, "message_id": request.get("message_id")}

    def _session(self, connection: ServerConnection) -> None:
        self.origins.append(connection.request.headers.get("Origin") if connection.request else None)
        try:
            connection.send(json.dumps(self.greeting))
            for text in connection:
                request = json.loads(text)
                self.received.append(request)
                if self.mode == "silent":
                    continue
                if self.mode == "oversized":
                    connection.send('{"message": "' + "x" * (2 * 1024 * 1024) + '"}')
                    continue
                if self.mode == "junk":
                    connection.send("\x1b[2J<html>not json")
                    continue
                for event in self.events.pop(str(request.get("message")), []):
                    connection.send(json.dumps(event))
                connection.send(json.dumps(self._answer(request)))
        except ConnectionClosed:
            pass

    def requests(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.received if r.get("message") == name]

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

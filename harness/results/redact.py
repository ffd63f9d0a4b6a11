"""Keep secrets (the profile's passwords) out of every file the harness writes.

Transcripts are evidence that leaves the lab, so a password must never reach them, not even when
the device's bytes arrive in pieces and a secret straddles two reads. `StreamRedactor` holds back
the few bytes at the end of a chunk that could be the start of a secret until it knows better.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

MASK = "********"
MASK_BYTES = MASK.encode()


def _usable(secrets: Iterable[str | bytes]) -> list[bytes]:
    """Non-empty secrets as UTF-8 bytes, longest first (so a longer secret wins an overlap)."""
    found = {s.encode() if isinstance(s, str) else bytes(s) for s in secrets if s}
    return sorted(found, key=len, reverse=True)


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of every secret in `text` with `********`."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


class StreamRedactor:
    """Redacts a byte stream that arrives in chunks and passes the result to `sink`.

    A chunk's tail that is a proper prefix of a secret is held back until the next chunk decides
    whether the secret completes. `flush()` ends the stream: a held-back prefix is masked rather
    than written, since it may be the first half of a secret whose second half never came.
    """

    def __init__(self, secrets: Iterable[str | bytes], sink: Callable[[bytes], None]) -> None:
        self._sink = sink
        self._pending = b""
        self._secrets: list[bytes] = []
        self._pattern: re.Pattern[bytes] | None = None
        self.add_secrets(secrets)

    def add_secrets(self, secrets: Iterable[str | bytes]) -> None:
        """Also redact these from now on (a password the harness is about to type)."""
        self._secrets = _usable([*self._secrets, *secrets])
        self._pattern = re.compile(b"|".join(re.escape(s) for s in self._secrets)) if self._secrets else None

    @property
    def pending(self) -> bytes:
        """Bytes held back because they might begin a secret (for tests and diagnostics)."""
        return self._pending

    def write(self, data: bytes) -> None:
        if self._pattern is None:
            if data:
                self._sink(data)
            return
        text = self._pending + data
        pieces: list[bytes] = []
        position = 0
        for match in self._pattern.finditer(text):
            if self._could_grow(text[match.start() :]):
                break  # "abc" matched, but "abcdef" may be completing in the next chunk
            pieces.append(text[position : match.start()])
            pieces.append(MASK_BYTES)
            position = match.end()
        tail = text[position:]
        keep = self._held_back_length(tail)
        pieces.append(tail[: len(tail) - keep])
        self._pending = tail[len(tail) - keep :] if keep else b""
        out = b"".join(pieces)
        if out:
            self._sink(out)

    def write_masked(self, data: bytes) -> None:
        """Record that `data` passed without revealing it (a password typed by the harness)."""
        self._emit_pending_masked()
        newline = data[len(data.rstrip(b"\r\n")) :]
        self._sink(MASK_BYTES + newline)

    def flush(self) -> None:
        self._emit_pending_masked()

    def _emit_pending_masked(self) -> None:
        if self._pending:
            self._pending = b""
            self._sink(MASK_BYTES)

    def _could_grow(self, rest: bytes) -> bool:
        return any(len(s) > len(rest) and s.startswith(rest) for s in self._secrets)

    def _held_back_length(self, tail: bytes) -> int:
        """Length of the longest suffix of `tail` that is a proper prefix of some secret."""
        longest = max(len(s) for s in self._secrets) - 1
        for length in range(min(longest, len(tail)), 0, -1):
            suffix = tail[-length:]
            if any(len(s) > length and s.startswith(suffix) for s in self._secrets):
                return length
        return 0

"""Keep secrets (the profile's passwords, the lab's own) out of every file the harness writes.

Transcripts are evidence that leaves the lab, so a password must never reach them, not even when
the device's bytes arrive in pieces and a secret straddles two reads, nor when the device echoes
it with terminal decoration between its characters (`H\\x1b[31ms7...`: colour codes, cursor moves,
a stray control character). A secret matches with up to MAX_DECORATIONS such sequences between
any two of its characters, and the whole decorated text is masked. `StreamRedactor` holds back
the end of a chunk that could be the start of a (decorated) secret until it knows better.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from functools import lru_cache
from os import PathLike

import regex

from harness.util.text import MASK

MASK_BYTES = MASK.encode()
MAX_DECORATIONS = 8  # escape sequences or control characters between two characters of a secret

# One terminal decoration: a CSI sequence (colours, cursor), an OSC sequence (titles), a two or
# three character escape, or a control character other than tab and newline.
_DECORATION = (
    r"(?:\x1b\[[0-?]{0,16}[ -/]{0,4}[@-~]"
    r"|\x1b\][^\x07\x1b]{0,64}(?:\x07|\x1b\\)"
    r"|\x1b[()*+#%]?[ -~]"
    r"|[\x00-\x08\x0b-\x1f\x7f])"
)
_BETWEEN = f"{_DECORATION}{{0,{MAX_DECORATIONS}}}"


def _usable(secrets: Iterable[str | bytes]) -> list[bytes]:
    """Non-empty secrets as UTF-8 bytes, longest first (so a longer secret wins an overlap)."""
    found = {s.encode() if isinstance(s, str) else bytes(s) for s in secrets if s}
    return sorted(found, key=len, reverse=True)


def _decorated(secret: str) -> str:
    """The pattern of `secret` with decorations allowed between its characters."""
    return _BETWEEN.join(regex.escape(char) for char in secret)


def _delimited(secret: str) -> str:
    """A secret of digits only (an SMS PIN) counts where no other digit touches it: masking it
    inside a longer number turned a timestamp like 1796221478461.5 into broken JSON evidence."""
    if secret.isascii() and secret.isdigit():
        return f"(?<![0-9]){_decorated(secret)}(?![0-9])"
    return _decorated(secret)


@lru_cache(maxsize=64)
def _text_pattern(secrets: tuple[str, ...]) -> regex.Pattern[str]:
    return regex.compile("|".join(_delimited(s) for s in secrets))


def _bytes_pattern(secret: bytes) -> regex.Pattern[bytes]:
    # Bytes patterns: each byte of the UTF-8 secret is one literal (escape bytes work the same way).
    parts = [regex.escape(bytes([b])) for b in secret]
    return regex.compile(_BETWEEN.encode().join(parts))


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of every secret in `text`, decorated or not, with `********`."""
    usable = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))
    if not usable:
        return text
    return _text_pattern(usable).sub(MASK, text)


class StreamRedactor:
    """Redacts a byte stream that arrives in chunks and passes the result to `sink`.

    A chunk's tail that could begin a secret is held back until the next chunk decides whether
    the secret completes. `flush()` ends the stream: a held-back prefix is masked rather than
    written, since it may be the first half of a secret whose second half never came.
    """

    def __init__(self, secrets: Iterable[str | bytes], sink: Callable[[bytes], None]) -> None:
        self._sink = sink
        self._pending = b""
        self._secrets: list[bytes] = []
        self._each: list[regex.Pattern[bytes]] = []
        self._pattern: regex.Pattern[bytes] | None = None
        self.add_secrets(secrets)

    def add_secrets(self, secrets: Iterable[str | bytes]) -> None:
        """Also redact these from now on (a password the harness is about to type)."""
        self._secrets = _usable([*self._secrets, *secrets])
        self._each = [_bytes_pattern(s) for s in self._secrets]
        self._pattern = regex.compile(b"|".join(p.pattern for p in self._each)) if self._each else None

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
        hold = None
        for match in self._pattern.finditer(text):
            if self._could_grow(text, match.start(), match.end()):
                hold = match.start()  # "abc" matched, but "abcdef" may be completing in the next chunk
                break
            pieces.append(text[position : match.start()])
            pieces.append(MASK_BYTES)
            position = match.end()
        if hold is None:
            hold = self._start_of_open_secret(text, position)
        pieces.append(text[position:hold])
        self._pending = text[hold:]
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

    def _could_grow(self, text: bytes, start: int, end: int) -> bool:
        """Whether a longer secret could still match from `start`, running past the chunk's end."""
        for secret, pattern in zip(self._secrets, self._each, strict=True):
            if len(secret) <= end - start and pattern.match(text, start) is not None:
                continue
            partial = pattern.match(text, start, partial=True)
            if partial is not None and partial.partial and partial.end() == len(text):
                return True
        return False

    def _start_of_open_secret(self, text: bytes, position: int) -> int:
        """Where a secret that runs to the end of `text` unfinished begins (len(text) if none)."""
        assert self._pattern is not None
        for match in self._pattern.finditer(text, position, partial=True):
            if match.partial and match.end() == len(text) and match.end() > match.start():
                return match.start()
        return len(text)


_LONGEST_DECORATION = 2 + 64 + 2  # an OSC sequence at its longest
COPY_CHUNK = 1 << 20


def redact_file(source: str | PathLike[str], target: str | PathLike[str], secrets: Iterable[str]) -> None:
    """Copy `source` to `target` with every (decorated) secret overwritten by as many `*` bytes.

    The length is kept so binary evidence (a pcap's records) stays readable; the file is read in
    chunks, with an overlap as long as the longest decorated secret, so memory stays bounded.
    """
    usable = _usable(secrets)
    if not usable:
        shutil.copyfile(source, target)
        return
    pattern = regex.compile(b"|".join(_bytes_pattern(s).pattern for s in usable))
    overlap = max(len(s) for s in usable) * (1 + MAX_DECORATIONS * _LONGEST_DECORATION)

    def starred(match: regex.Match[bytes]) -> bytes:
        return b"*" * (match.end() - match.start())

    with open(source, "rb") as src, open(target, "wb") as dst:
        carry = b""
        while True:
            chunk = src.read(COPY_CHUNK)
            data = pattern.sub(starred, carry + chunk)
            if not chunk:
                dst.write(data)
                return
            # A secret cut by the chunk's end starts within the last `overlap` bytes: look again.
            cut = max(0, len(data) - overlap)
            dst.write(data[:cut])
            carry = data[cut:]

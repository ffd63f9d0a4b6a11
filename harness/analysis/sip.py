"""SIP messages (RFC 3261) parsed from bytes, and every SIP message a capture carries.

Parsing is done here rather than with tshark because a capture of a whole run holds thousands of
packets and only the headers matter; tshark (`-Y sip`) serves as the oracle in the tests.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from harness.analysis.capture.packets import TCP, UDP, PacketDecoder
from harness.analysis.capture.pcapio import iter_packets

SIP_DEFAULT_PORT = 5060  # RFC 3261 19.1.2: where a SIP element listens unless it says otherwise
SIP_VERSION = "SIP/2.0"
# RFC 3261 7.3.3 compact forms, and the RFC 3841 / 3515 ones a UA may send.
COMPACT_HEADERS = {
    "f": "from",
    "t": "to",
    "m": "contact",
    "i": "call-id",
    "v": "via",
    "l": "content-length",
    "c": "content-type",
    "s": "subject",
    "k": "supported",
    "e": "content-encoding",
    "o": "event",
    "u": "allow-events",
    "r": "refer-to",
    "b": "referred-by",
    "x": "session-expires",
}
_REQUEST_LINE = re.compile(r"^([A-Z]+) (\S+) SIP/2\.0$")
_STATUS_LINE = re.compile(r"^SIP/2\.0 (\d{3}) ?(.*)$")
MAX_HEADER_BYTES = 65536


@dataclass
class SipMessage:
    """One SIP request or response; header names are lower-case long forms."""

    method: str | None  # "REGISTER", ... for requests
    uri: str | None
    status: int | None  # 200, 401, ... for responses
    reason: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    # Where it was seen: filled in by messages_in_capture.
    protocol: str = ""
    source: tuple[str, int] = ("", 0)
    destination: tuple[str, int] = ("", 0)
    timestamp: float = 0.0
    raw: bytes = field(default=b"", repr=False)

    @property
    def is_request(self) -> bool:
        return self.method is not None

    @property
    def start_line(self) -> str:
        if self.is_request:
            return f"{self.method} {self.uri} {SIP_VERSION}"
        return f"{SIP_VERSION} {self.status} {self.reason}".rstrip()

    def header(self, name: str) -> str | None:
        """The first value of a header (long or compact name, any case), or None."""
        wanted = _long_name(name)
        return next((value for key, value in self.headers if key == wanted), None)

    def all(self, name: str) -> list[str]:
        wanted = _long_name(name)
        return [value for key, value in self.headers if key == wanted]

    @property
    def cseq_method(self) -> str | None:
        cseq = self.header("cseq")
        return cseq.split()[-1].upper() if cseq and cseq.split() else None


def _long_name(name: str) -> str:
    lowered = name.strip().lower()
    return COMPACT_HEADERS.get(lowered, lowered)


def parse_message(data: bytes) -> tuple[SipMessage, int] | None:
    """The SIP message at the start of `data` and how many bytes it took, or None if not SIP."""
    end = data.find(b"\r\n\r\n")
    separator = 4
    if end < 0:
        end = data.find(b"\n\n")
        separator = 2
    if end < 0 or end > MAX_HEADER_BYTES:
        return None
    try:
        head = data[:end].decode("utf-8")
    except UnicodeDecodeError:
        head = data[:end].decode("latin-1")
    lines = head.replace("\r\n", "\n").split("\n")
    first = lines[0].strip()
    method = uri = None
    status = None
    reason = ""
    if match := _REQUEST_LINE.match(first):
        method, uri = match.group(1), match.group(2)
    elif match := _STATUS_LINE.match(first):
        status, reason = int(match.group(1)), match.group(2).strip()
    else:
        return None
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # folded continuation line
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())
            continue
        name, colon, value = line.partition(":")
        if colon:
            headers.append((_long_name(name), value.strip()))
    body_start = end + separator
    length_text = next((v for k, v in headers if k == "content-length"), None)
    try:
        length = int(length_text) if length_text is not None else len(data) - body_start
    except ValueError:
        length = len(data) - body_start
    length = max(0, min(length, len(data) - body_start))
    body = data[body_start : body_start + length]
    message = SipMessage(method, uri, status, reason, headers, body, raw=data[: body_start + length])
    return message, body_start + length


def parse_messages(data: bytes) -> list[SipMessage]:
    """Every SIP message in a datagram or a stretch of stream (several may share a TCP segment)."""
    found = []
    offset = 0
    while offset < len(data):
        while data[offset : offset + 2] == b"\r\n":  # RFC 5626 keep-alive CRLFs
            offset += 2
        parsed = parse_message(data[offset:])
        if parsed is None:
            break
        message, used = parsed
        found.append(message)
        offset += used
    return found


def _address(raw: bytes) -> str:
    return str(ipaddress.ip_address(raw))


def messages_in_capture(
    pcap: Path, *, start: float | None = None, end: float | None = None
) -> Iterator[SipMessage]:
    """Every SIP message over UDP or TCP in a capture, on any port, within [start, end].

    Any port, because a device may use a non-standard one; only payloads that parse as SIP count.
    TCP streams are read per segment: SIP over TCP here is short signalling, one message per
    segment or several whole ones (messages split across segments are joined per direction).
    """
    decoder = PacketDecoder()
    pending: dict[tuple, bytes] = {}
    for timestamp, linktype, frame in iter_packets(pcap):
        if start is not None and timestamp < start or end is not None and timestamp > end:
            continue
        segment = decoder.decode(linktype, frame)
        if segment is None:
            continue
        protocol, src, sport, dst, dport, payload = segment[:6]
        if not payload or protocol not in (TCP, UDP):
            continue
        name = "udp" if protocol == UDP else "tcp"
        key = (src, sport, dst, dport)
        data = payload
        if protocol == TCP:
            data = pending.pop(key, b"") + payload
        messages = parse_messages(data)
        consumed = sum(len(m.raw) for m in messages)
        if protocol == TCP and not messages and data[:8].split(b" ")[0].isalpha() and len(data) < 16384:
            pending[key] = data  # a header still arriving
        elif protocol == TCP and messages and consumed < len(data) and len(data) - consumed < 16384:
            pending[key] = data[consumed:]
        for message in messages:
            message.protocol = name
            message.source = (_address(src), sport)
            message.destination = (_address(dst), dport)
            message.timestamp = timestamp
            yield message

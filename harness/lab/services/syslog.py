"""The lab's syslog receiver: UDP (RFC 5426), TCP (RFC 6587) and TLS (RFC 5425) in one object.

A device's security log is only useful if it leaves the device; the harness must therefore be the
collector a device exports to, and remember for each record how it arrived (in the clear or
encrypted), so a test can tell "exported securely" from "exported" from "not exported".

Messages are parsed as RFC 5424 or RFC 3164 (BSD: what busybox syslogd and glibc's syslog() send).
Every socket read has a timeout, the number of records, connections and bytes per message is
bounded, so a chatty or hostile device cannot exhaust the harness. A record that cannot be parsed
(an impossible date, a parser bug) is kept raw as "unparsed"; no record ever stops a listener.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from harness.lab.certificates import certificate_sha256, ensure_lab_certificate
from harness.observations.syslog import SyslogRecord
from harness.util.deadlines import Deadline

if TYPE_CHECKING:
    from harness.lab.services.base import LabEndpoints

MAX_MESSAGE_BYTES = 8192  # RFC 5425 4.3.1: receivers SHOULD take 8192 octets
MAX_RECORDS = 5000
MAX_CONNECTIONS = 16
MAX_LOG_BYTES = 64 * 1024 * 1024  # the on-disk record log stops growing here (records still counted)
POLL_S = 0.2  # how often blocked reads look at the stop flag
HANDSHAKE_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 3600.0  # a quiet device keeps its TLS session; a dead one is dropped eventually
_FRAME_LENGTH_DIGITS = 10

_FACILITIES = (
    "kern user mail daemon auth syslog lpr news uucp cron authpriv ftp ntp audit alert clock "
    "local0 local1 local2 local3 local4 local5 local6 local7"
).split()
_SEVERITIES = "emerg alert crit err warning notice info debug".split()
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()

_PRI = re.compile(rb"^<(\d{1,3})>")
_RFC5424_HEAD = re.compile(r"^([1-9]\d{0,2}) (\S+) (\S+) (\S+) (\S+) (\S+) ")
_RFC3164_STAMP = re.compile(r"^([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d) ")
_ISO_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d))(?: |$)")
_TAG = re.compile(r"^([\w./-]{1,48})(?:\[([^\]\s]{1,32})\])?: ?")


@dataclass(frozen=True)
class ParsedMessage:
    syntax: str
    facility: str | None
    severity: str | None
    timestamp: str | None
    host: str | None
    app: str | None
    procid: str | None
    message: str


def parse_syslog(data: bytes, *, now: datetime | None = None) -> ParsedMessage:
    """RFC 5424 or RFC 3164; anything else is kept whole as an "unparsed" message."""
    data = data.rstrip(b"\r\n\0")
    match = _PRI.match(data)
    if not match or int(match.group(1)) > 191:
        return ParsedMessage("unparsed", None, None, None, None, None, None, _text(data))
    pri = int(match.group(1))
    facility = _FACILITIES[pri >> 3] if (pri >> 3) < len(_FACILITIES) else str(pri >> 3)
    severity = _SEVERITIES[pri & 7]
    rest = _text(data[match.end() :])
    parsed = _parse_rfc5424(rest) or _parse_rfc3164(rest, now or datetime.now(UTC))
    syntax, timestamp, host, app, procid, message = parsed
    return ParsedMessage(syntax, facility, severity, timestamp, host, app, procid, message)


def _text(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", errors="replace")


def _nil(value: str) -> str | None:
    return None if value == "-" else value


def _parse_rfc5424(rest: str) -> tuple[str, str | None, str | None, str | None, str | None, str] | None:
    head = _RFC5424_HEAD.match(rest + " ")
    if not head:
        return None
    _version, stamp, host, app, procid, _msgid = head.groups()
    if stamp != "-" and not _ISO_STAMP.match(stamp):
        return None
    body = (rest + " ")[head.end() :]
    structured_end = _skip_structured_data(body)
    if structured_end is None:
        return None
    message = body[structured_end:].lstrip(" ").removeprefix("\ufeff").rstrip(" ")
    return "rfc5424", _nil(stamp), _nil(host), _nil(app), _nil(procid), message


def _skip_structured_data(body: str) -> int | None:
    """Index just after STRUCTURED-DATA ("-" or [id k="v"]...), None if it is malformed."""
    if body.startswith("-"):
        return 1
    index, in_value = 0, False
    while index < len(body) and body[index] == "[":
        index += 1
        while index < len(body):
            char = body[index]
            if in_value and char == "\\":
                index += 2
                continue
            if char == '"':
                in_value = not in_value
            elif char == "]" and not in_value:
                break
            index += 1
        else:
            return None
        index += 1
    return index or None


def _parse_rfc3164(
    rest: str, now: datetime
) -> tuple[str, str | None, str | None, str | None, str | None, str]:
    timestamp: str | None = None
    stamp = _RFC3164_STAMP.match(rest)
    iso = _ISO_STAMP.match(rest)
    if stamp and stamp.group(1) in _MONTHS and (bsd := _bsd_timestamp(stamp, now)) is not None:
        timestamp = bsd
        rest = rest[stamp.end() :]
    elif iso:
        timestamp = iso.group(1)
        rest = rest[iso.end() :]
    host = None
    # "HOST TAG[PID]: MSG" or, as glibc and busybox send it, "TAG[PID]: MSG" with no host.
    if timestamp is not None and not _TAG.match(rest):
        first, _, after = rest.partition(" ")
        if first and _TAG.match(after):
            host, rest = first, after
    tag = _TAG.match(rest)
    if tag:
        return "rfc3164", timestamp, host, tag.group(1), tag.group(2), rest[tag.end() :].rstrip()
    return "rfc3164", timestamp, host, None, None, rest.rstrip()


def _bsd_timestamp(stamp: re.Match[str], now: datetime) -> str | None:
    """RFC 3164 has no year or zone: take the receiver's year (last year if that is in the future).

    None for a date that cannot be (Feb 31, 25:61:61): the text stays part of the message.
    """
    month = _MONTHS.index(stamp.group(1)) + 1
    day, hour, minute, second = (int(stamp.group(i)) for i in (2, 3, 4, 5))
    try:
        moment = datetime(now.year, month, day, hour, minute, second)
    except ValueError:
        return None
    if moment - now.replace(tzinfo=None) > timedelta(days=31):
        try:
            moment = moment.replace(year=now.year - 1)
        except ValueError:  # Feb 29 of a leap year, received early the next year
            return None
    return moment.isoformat()


class OctetFramer:
    """Splits a TCP/TLS byte stream into messages: RFC 6587 octet-counting or LF (or NUL) framing."""

    def __init__(self, max_message: int = MAX_MESSAGE_BYTES) -> None:
        self.max_message = max_message
        self._buffer = bytearray()
        self.oversized = 0

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        messages: list[bytes] = []
        while self._buffer:
            if self._buffer[:1].isdigit():
                message = self._take_counted()
            else:
                message = self._take_terminated()
            if message is None:
                break
            if message:
                messages.append(message)
        return messages

    def _take_counted(self) -> bytes | None:
        space = self._buffer.find(b" ", 0, _FRAME_LENGTH_DIGITS + 1)
        if space < 0:
            if len(self._buffer) > _FRAME_LENGTH_DIGITS or not self._buffer.isdigit():
                return self._take_terminated()  # digits not followed by a length: LF framing
            return None
        if not self._buffer[:space].isdigit():
            return self._take_terminated()
        length = int(self._buffer[:space])
        end = space + 1 + length
        if length > self.max_message:
            # Too long to keep: drop what has arrived of it and skip the rest as it comes.
            self.oversized += 1
            self._buffer.clear()
            raise ValueError(f"message of {length} octets exceeds {self.max_message}")
        if len(self._buffer) < end:
            return None
        message = bytes(self._buffer[space + 1 : end])
        del self._buffer[:end]
        return message

    def _take_terminated(self) -> bytes | None:
        ends = [i for i in (self._buffer.find(b"\n"), self._buffer.find(b"\0")) if i >= 0]
        if not ends:
            if len(self._buffer) > self.max_message:
                self.oversized += 1
                message = bytes(self._buffer[: self.max_message])
                self._buffer.clear()
                return message
            return None
        end = min(ends)
        message = bytes(self._buffer[:end]).rstrip(b"\r")
        del self._buffer[: end + 1]
        return message


class SyslogReceiver:
    """UDP, TCP and TLS syslog listeners on one host address; ports 0 mean "pick free ones"."""

    def __init__(
        self,
        workdir: Path,
        host: str = "127.0.0.1",
        *,
        udp_port: int = 0,
        tcp_port: int = 0,
        tls_port: int = 0,
        max_records: int = MAX_RECORDS,
        max_message: int = MAX_MESSAGE_BYTES,
        max_connections: int = MAX_CONNECTIONS,
        idle_timeout: float = IDLE_TIMEOUT_S,
        identity: tuple[Path, Path] | None = None,
    ) -> None:
        self.workdir, self.host = workdir, host
        self.identity = identity
        self._ports = {"udp": udp_port, "tcp": tcp_port, "tls": tls_port}
        self.max_message, self.idle_timeout = max_message, idle_timeout
        self.log_path = workdir / "syslog-records.jsonl"
        self.dropped = 0  # records that fell out of the bounded store
        self.unparseable = 0  # records the parser failed on, kept raw
        self.errors = 0  # records or connections a listener gave up on (it went on listening)
        self.log_bytes = 0
        self.log_dropped = 0  # records left out of the on-disk log once it reached MAX_LOG_BYTES
        self._records: deque[SyslogRecord] = deque(maxlen=max_records)
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._slots = threading.BoundedSemaphore(max_connections)
        self._tls: ssl.SSLContext | None = None
        self._log_lock = threading.Lock()

    # --- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        key, cert = self.identity or ensure_lab_certificate(self.workdir)
        self.certificate = cert
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.minimum_version = ssl.TLSVersion.TLSv1_2
        self._tls.load_cert_chain(cert, key)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((self.host, self._ports["udp"]))
        udp.settimeout(POLL_S)
        self._keep("udp", udp, self._serve_udp)
        for transport in ("tcp", "tls"):
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self._ports[transport]))
            listener.listen(MAX_CONNECTIONS)
            listener.settimeout(POLL_S)
            self._keep(transport, listener, self._accept_loop)

    def _keep(self, transport: str, sock: socket.socket, target: Callable[..., None]) -> None:
        self._ports[transport] = int(sock.getsockname()[1])
        self._sockets.append(sock)
        thread = threading.Thread(
            target=target,
            args=(sock, transport),
            name=f"syslog-{transport}-{self._ports[transport]}",
            daemon=True,
        )
        self._threads.append(thread)
        thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in list(self._threads):
            thread.join(timeout=2)
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()
        self._threads.clear()

    def certificate_sha256(self) -> str:
        """The TLS certificate's SHA-256 fingerprint (upper-case hex), for a device to pin."""
        return certificate_sha256(self.certificate)

    def port(self, transport: str) -> int:
        return self._ports[transport]

    # --- what arrived --------------------------------------------------------------------------

    def records(self, since: float | None = None) -> list[SyslogRecord]:
        with self._changed:
            return [r for r in self._records if since is None or r.received >= since]

    def wait_for(
        self, predicate: Callable[[SyslogRecord], bool], timeout: float, *, since: float | None = None
    ) -> list[SyslogRecord]:
        """Records matching `predicate` (received at or after `since`), waiting up to `timeout` s."""
        deadline = Deadline.after(timeout)
        with self._changed:
            while True:
                found = [r for r in self._records if (since is None or r.received >= since) and predicate(r)]
                if found or deadline.expired:
                    return found
                self._changed.wait(min(deadline.remaining(), 1.0))

    def add(self, payload: bytes, peer: tuple[str, int], transport: str) -> SyslogRecord:
        """Parse one message and store it (also the path the listeners take)."""
        kept = payload[: self.max_message]
        raw = _text(kept).rstrip("\r\n\0")
        try:
            parsed = parse_syslog(kept)
        except Exception:  # a parser bug must not lose the record: keep it raw
            self.unparseable += 1
            parsed = ParsedMessage("unparsed", None, None, None, None, None, None, raw)
        record = SyslogRecord(
            received=time.time(),
            peer=f"{peer[0]}:{peer[1]}",
            transport=transport,
            encrypted=transport == "tls",
            raw=raw,
            **asdict(parsed),
        )
        self._log(record)  # on disk before anyone waiting is told of it
        with self._changed:
            if len(self._records) == self._records.maxlen:
                self.dropped += 1
            self._records.append(record)
            self._changed.notify_all()
        return record

    def _log(self, record: SyslogRecord) -> None:
        """Append the record to the on-disk log, up to MAX_LOG_BYTES."""
        line = json.dumps(asdict(record)) + "\n"
        with self._log_lock:
            if self.log_bytes + len(line) > MAX_LOG_BYTES:
                self.log_dropped += 1
                return
            try:
                with self.log_path.open("a", encoding="utf-8") as log:
                    log.write(line)
            except OSError:
                self.log_dropped += 1
                return
            self.log_bytes += len(line)

    def _add_safely(self, payload: bytes, peer: tuple[str, int], transport: str) -> None:
        """`add`, for the listeners: whatever one record does, the listener keeps listening."""
        try:
            self.add(payload, peer, transport)
        except Exception:  # the receiver must outlive any record
            self.errors += 1

    # --- listeners -----------------------------------------------------------------------------

    def _serve_udp(self, sock: socket.socket, transport: str) -> None:
        while not self._stop.is_set():
            try:
                payload, peer = sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            # RFC 5426: one message per datagram; busybox adds a trailing LF.
            self._add_safely(payload, peer, transport)

    def _accept_loop(self, listener: socket.socket, transport: str) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._slots.acquire(blocking=False):
                conn.close()  # over the connection bound: refuse rather than grow
                continue
            thread = threading.Thread(
                target=self._serve_stream,
                args=(conn, peer, transport),
                name=f"syslog-{transport}-conn",
                daemon=True,
            )
            try:
                thread.start()
            except RuntimeError:  # no thread to spare: refuse this connection, keep accepting
                self.errors += 1
                conn.close()
                self._slots.release()

    def _serve_stream(self, conn: socket.socket, peer: tuple[str, int], transport: str) -> None:
        stream: socket.socket = conn
        try:
            if transport == "tls":
                assert self._tls is not None
                conn.settimeout(HANDSHAKE_TIMEOUT_S)
                stream = self._tls.wrap_socket(conn, server_side=True)
            stream.settimeout(POLL_S)
            framer = OctetFramer(self.max_message)
            idle_since = time.monotonic()
            while not self._stop.is_set() and time.monotonic() - idle_since < self.idle_timeout:
                try:
                    data = stream.recv(16384)
                except (TimeoutError, ssl.SSLWantReadError):
                    continue
                if not data:
                    return
                idle_since = time.monotonic()
                for message in framer.feed(data):
                    self._add_safely(message, peer, transport)
        except (OSError, ValueError, ssl.SSLError):
            return  # a broken or hostile sender loses its connection, never the receiver
        except Exception:  # nor for any other reason
            self.errors += 1
        finally:
            stream.close()
            conn.close()
            self._slots.release()


class SyslogService:
    """The lab's syslog collector as a lab service; tells a reference image where to export logs.

    `hilsec.syslog_tls` is where a device that exports securely sends (RFC 5425), and
    `hilsec.syslog_tls_sha256` the collector certificate's fingerprint it pins;
    `hilsec.syslog_plain` is the UDP port a device without TLS sends to, so a plaintext export is
    caught and named rather than lost.
    """

    name = "syslog"

    @classmethod
    def wanted(cls, profile) -> bool:
        return profile.features.has("security_logging") is not False

    def __init__(self) -> None:
        self.receiver: SyslogReceiver | None = None
        self._facing = ""

    def start(self, workdir: Path, endpoints: LabEndpoints) -> None:
        identity = (
            (endpoints.tls_key, endpoints.tls_certificate)
            if endpoints.tls_certificate and endpoints.tls_key
            else None
        )
        self.receiver = SyslogReceiver(
            workdir / "syslog",
            endpoints.bind_address,
            udp_port=endpoints.port("syslog_udp_port"),
            tcp_port=endpoints.port("syslog_tcp_port"),
            tls_port=endpoints.port("syslog_tls_port"),
            identity=identity,
        )
        self.receiver.start()
        self._facing = endpoints.device_facing_address

    def stop(self) -> None:
        if self.receiver is not None:
            self.receiver.stop()

    def boot_arguments(self) -> list[str]:
        assert self.receiver is not None
        return [
            f"hilsec.syslog_tls={self._facing}:{self.receiver.port('tls')}",
            f"hilsec.syslog_tls_sha256={self.receiver.certificate_sha256()}",
            f"hilsec.syslog_plain={self._facing}:{self.receiver.port('udp')}",
        ]

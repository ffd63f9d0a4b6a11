"""The lab's direct-request probe: a SIP request sent straight to a device's SIP port.

This is the attacker's move in FS38-SIP-02: no registrar, no credentials, a caller the device has
never heard of. Every wait is bounded; a call the device accepts is torn down again (ACK, BYE).
"""

from __future__ import annotations

import secrets
import socket

from harness.analysis.sip import SipMessage, parse_messages
from harness.observations.sip import DirectRequestOutcome
from harness.util.deadlines import Deadline

RESPONSE_TIMEOUT_S = 5.0
LAB_CALLER = "sip:intruder@lab-outside.hilsec.test"


def _request(method: str, target: str, transport: str, local: tuple[str, int], call_id: str, cseq: int,
             branch: str, tag: str, to_tag: str = "", body: str = "") -> bytes:  # fmt: skip
    host, port = local
    to = f"<sip:device@{target}>" + (f";tag={to_tag}" if to_tag else "")
    content_type = "Content-Type: application/sdp\r\n" if body and method == "INVITE" else ""
    if body and method == "MESSAGE":
        content_type = "Content-Type: text/plain\r\n"
    return (
        f"{method} sip:device@{target};transport={transport} SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport.upper()} {host}:{port};branch=z9hG4bK{branch};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <{LAB_CALLER}>;tag={tag}\r\n"
        f"To: {to}\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} {'ACK' if method == 'ACK' else method}\r\n"
        f"Contact: <sip:intruder@{host}:{port};transport={transport}>\r\n"
        f"{content_type}"
        f"Content-Length: {len(body.encode())}\r\n\r\n{body}"
    ).encode()


def _sdp(host: str) -> str:
    return (
        f"v=0\r\no=intruder 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
        "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    )


class _Channel:
    """A UDP or TCP conversation with one peer, with bounded reads."""

    def __init__(self, transport: str, host: str, port: int, timeout: float) -> None:
        self.transport = transport
        kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.settimeout(timeout)
        self.peer = (host, port)
        self.sock.connect(self.peer)  # UDP: only fixes the peer; TCP: may raise ConnectionRefusedError
        self.buffer = b""

    @property
    def local(self) -> tuple[str, int]:
        return self.sock.getsockname()

    def send(self, data: bytes) -> None:
        self.sock.send(data)

    def receive(self, deadline: Deadline) -> list[SipMessage]:
        """Messages that arrive before the deadline; [] on timeout. ConnectionError when closed."""
        remaining = deadline.remaining()
        if remaining == 0:
            return []
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65535)
        except TimeoutError:
            return []
        if not data:
            raise ConnectionResetError("the device closed the connection")
        if self.transport == "udp":
            return parse_messages(data)
        self.buffer += data
        messages = parse_messages(self.buffer)
        self.buffer = self.buffer[sum(len(m.raw) for m in messages) :]
        return messages

    def close(self) -> None:
        self.sock.close()


def send_direct_request(
    host: str, port: int, *, method: str = "INVITE", transport: str = "tcp", target: str | None = None,
    timeout: float = RESPONSE_TIMEOUT_S,
) -> DirectRequestOutcome:  # fmt: skip
    """Send one INVITE or MESSAGE to host:port and record every status the device answered."""
    target_name = target or f"{host}:{port}"
    outcome = DirectRequestOutcome(method=method, transport=transport.upper(), target=target_name)
    call_id = secrets.token_hex(8) + "@hilsec-lab"
    tag, branch = secrets.token_hex(4), secrets.token_hex(6)
    try:
        channel = _Channel(transport, host, port, timeout)
    except ConnectionRefusedError as exc:
        outcome.connection, outcome.detail = "refused", str(exc)
        return outcome
    try:
        local = channel.local
        body = _sdp(local[0]) if method == "INVITE" else "hilsec direct MESSAGE probe"
        channel.send(_request(method, target_name, transport, local, call_id, 1, branch, tag, body=body))
        deadline = Deadline.after(timeout)
        final: SipMessage | None = None
        while final is None and not deadline.expired:
            for message in channel.receive(deadline):
                if message.status is None or message.header("call-id") != call_id:
                    continue
                outcome.statuses.append(message.status)
                if message.status >= 200:
                    final = message
        if not outcome.statuses:
            outcome.connection, outcome.detail = "silent", f"no answer within {timeout:.0f} s"
        if final is not None and method == "INVITE":
            _end_call(channel, final, target_name, transport, local, call_id, branch, tag, timeout)
    except (ConnectionResetError, ConnectionRefusedError, BrokenPipeError) as exc:
        if not outcome.statuses:
            outcome.connection = "refused" if isinstance(exc, ConnectionRefusedError) else "closed"
            outcome.detail = str(exc) or type(exc).__name__
    finally:
        channel.close()
    return outcome


def _end_call(channel: _Channel, final: SipMessage, target: str, transport: str, local: tuple[str, int],
              call_id: str, branch: str, tag: str, timeout: float) -> None:  # fmt: skip
    """ACK the final answer; hang up a call the device accepted, so nothing stays up."""
    to_tag = ""
    to_header = final.header("to") or ""
    if ";tag=" in to_header:
        to_tag = to_header.split(";tag=", 1)[1].split(";")[0]
    ack_branch = branch if final.status and final.status >= 300 else secrets.token_hex(6)
    channel.send(_request("ACK", target, transport, local, call_id, 1, ack_branch, tag, to_tag))
    if final.status and 200 <= final.status < 300:
        channel.send(_request("BYE", target, transport, local, call_id, 2, secrets.token_hex(6), tag, to_tag))
        deadline = Deadline.after(timeout)
        while not deadline.expired:
            if any(m.status and m.status >= 200 for m in channel.receive(deadline)):
                return

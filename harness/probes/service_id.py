"""What answers on a TCP port, found by talking to it (banner and protocol probes), never by its number.

Each probe is its own connection with bounded reads (`MAX_REPLY` bytes, `REPLY_TIMEOUT_S` of
silence), in this order, the first that recognises the service wins:
1. the banner: telnet option negotiation (IAC), `SSH-`, an FTP `220` greeting, a login or
   password prompt, a shell prompt (then confirmed below);
2. a shell probe: `echo HILSEC$((6*7))` answered with `HILSEC42` is a shell that asked for nothing
   (the echo of the command itself cannot contain `HILSEC42`);
3. an ADB `CNXN` message answered with `CNXN` or `AUTH`;
4. an rlogin handshake (`\\0user\\0user\\0term\\0`) answered with one NUL byte;
5. an HTTP request answered with `HTTP/`.
A read ends as soon as what arrived decides (an SSH or FTP greeting's first line, a prompt; on
the patient and late reads also telnet option negotiation), never later than its silence timeout. A service silent at first gets one
patient connection (a loaded dropbear's identification can come seconds late); a greeting that
comes late, after the shell probe was sent, is recognised there. The open ports of an inventory
are identified concurrently (`IDENTIFY_WORKERS` at a time), each port's connections one after
another, so a server that takes one client at a time is never asked twice at once.
Whatever the device sends is kept only as an escaped, shortened sample. Where the answer names the
software behind it (SSH's identification string `SSH-2.0-dropbear_2022.83`, an HTTP `Server:`
header), that name is kept as `product` (printable ASCII, at most `PRODUCT_CHARS`).
"""

from __future__ import annotations

import re
import socket
import struct
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from harness.capabilities import LabAddressing
from harness.probes.portscan import PortScan, scan_device
from harness.util.deadlines import Deadline

MAX_REPLY = 4096
REPLY_TIMEOUT_S = 1.5
# A port that answered nothing recognisable gets one more connection that waits this long for a
# first line: a loaded device's SSH server can take seconds to start each session (dropbear 2022.82+
# re-executes itself per connection) before its identification string, which a service id needs.
PATIENT_BANNER_WAIT_S = 15.0
CONNECT_TIMEOUT_S = 3.0
# Ports identified at once: a silent port costs its reads' timeouts and a patient wait, which
# other ports need not queue behind; bounded, so a device with many open ports is not flooded.
IDENTIFY_WORKERS = 8
SAMPLE_CHARS = 80
SHELL_PROBE = b"echo HILSEC$((6*7))\n"
SHELL_ANSWER = b"HILSEC42"
IAC = 0xFF
TELNET_COMMANDS = frozenset((0xFB, 0xFC, 0xFD, 0xFE, 0xFA))  # WILL WONT DO DONT SB
_FTP_GREETING = re.compile(rb"^220[ -]")
_LOGIN_PROMPT = re.compile(rb"(login|username|user name)\s*:\s*$", re.IGNORECASE)
_PASSWORD_PROMPT = re.compile(rb"password\s*:\s*$", re.IGNORECASE)
_SHELL_PROMPT = re.compile(rb"[#$>]\s*$")
PRODUCT_CHARS = 64
# RFC 4253 4.2: SSH-protoversion-softwareversion SP comments; softwareversion has no space or '-'.
_SSH_SOFTWARE = re.compile(rb"^SSH-[!-,.-~]+-([!-~]+)")
_HTTP_SERVER = re.compile(rb"^server:[ \t]*([!-~][ -~]*)", re.IGNORECASE | re.MULTILINE)

# Kinds of service that let a person log in or debug over plaintext: FS38-05 fails on each.
PLAINTEXT_LOGIN_KINDS = {
    "telnet": "telnet (plaintext remote login)",
    "rlogin": "rlogin (plaintext remote login)",
    "ftp": "FTP (plaintext login and file access)",
    "shell": "a shell that asks for no credential",
    "adb": "adb (Android Debug Bridge)",
    "login-prompt": "a plaintext login prompt",
}


@dataclass(frozen=True)
class ServiceIdentity:
    """What answered on one port: a kind ("telnet", "ssh", "ftp", "shell", "adb", "rlogin",
    "http", "login-prompt", "unknown", "closed") and the evidence (an escaped sample)."""

    port: int
    kind: str
    evidence: str
    product: str = ""  # the software the answer names ("dropbear_2022.83", "lighttpd/1.4.69"), or ""

    @property
    def plaintext_login(self) -> bool:
        return self.kind in PLAINTEXT_LOGIN_KINDS

    def __str__(self) -> str:
        return f"tcp/{self.port}: {self.kind} ({self.evidence})"


@dataclass
class _Exchange:
    """One connection's conversation, bounded."""

    host: str
    port: int
    timeout: float
    received: bytes = b""
    error: str = ""
    sock: socket.socket | None = field(default=None, repr=False)

    def __enter__(self) -> _Exchange:
        try:
            self.sock = socket.create_connection((self.host, self.port), timeout=CONNECT_TIMEOUT_S)
        except OSError as err:
            self.error = f"connect failed: {err}"
        return self

    def __exit__(self, *exc: object) -> None:
        if self.sock is not None:
            self.sock.close()

    def send(self, data: bytes) -> None:
        if self.sock is not None:
            try:
                self.sock.sendall(data)
            except OSError as err:
                self.error = f"send failed: {err}"

    def read(self, until: Callable[[bytes], bool] | None = None) -> bytes:
        """Read until `until(received)`, `timeout` of silence, MAX_REPLY bytes or the peer closes."""
        if self.sock is None:
            return b""
        deadline = Deadline.after(self.timeout * 4)
        while len(self.received) < MAX_REPLY and not deadline.expired:
            self.sock.settimeout(self.timeout)
            try:
                data = self.sock.recv(MAX_REPLY - len(self.received))
            except TimeoutError:
                break
            except OSError as err:
                self.error = f"closed: {err}"
                break
            if not data:
                break
            self.received += data
            if until is not None and until(self.received):
                break
        return self.received


def sample(data: bytes) -> str:
    """An escaped, bounded rendering of what the device sent (never raw control characters)."""
    if not data:
        return "nothing"
    text = data[:SAMPLE_CHARS].decode("ascii", errors="backslashreplace")
    return "'" + "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text) + "'"


def _product(pattern: re.Pattern[bytes], data: bytes) -> str:
    """The software name an answer carries, as bounded printable ASCII ("" when none)."""
    found = pattern.search(data)
    if not found:
        return ""
    return found.group(1)[:PRODUCT_CHARS].decode("ascii").strip()


def _strip_telnet(data: bytes) -> bytes:
    out = bytearray()
    index = 0
    while index < len(data):
        if data[index] == IAC and index + 2 < len(data) and data[index + 1] in TELNET_COMMANDS:
            index += 3
            continue
        out.append(data[index])
        index += 1
    return bytes(out)


def _adb_connect() -> bytes:
    payload = b"host::\0"
    command = 0x4E584E43  # "CNXN"
    header = struct.pack(
        "<6I", command, 0x01000000, 4096, len(payload), sum(payload) & 0xFFFFFFFF, command ^ 0xFFFFFFFF
    )
    return header + payload


def _greeting(port: int, banner: bytes) -> ServiceIdentity | None:
    """What a protocol's own opening says the service is (telnet negotiation, SSH, FTP), if anything."""
    if _telnet_negotiation(banner):
        return ServiceIdentity(port, "telnet", f"telnet option negotiation {sample(banner)}")
    if banner.startswith(b"SSH-"):
        first = banner.splitlines()[0]
        return ServiceIdentity(port, "ssh", f"banner {sample(first)}", _product(_SSH_SOFTWARE, first))
    if _FTP_GREETING.match(banner):
        return ServiceIdentity(port, "ftp", f"FTP greeting {sample(banner)}")
    return None


def _telnet_negotiation(data: bytes) -> bool:
    return len(data) >= 3 and data[0] == IAC and data[1] in TELNET_COMMANDS


def _greeting_complete(data: bytes) -> bool:
    """Whether an SSH identification or FTP greeting has its first line (all that decides)."""
    return (data.startswith(b"SSH-") or bool(_FTP_GREETING.match(data))) and b"\n" in data


def _prompted(data: bytes) -> bool:
    """A login or password prompt is the last thing the service sent."""
    return _prompt_in(_strip_telnet(data))


def _prompt_in(text: bytes) -> bool:
    """A login or password prompt in what a service sent, its telnet negotiation stripped."""
    return bool(_LOGIN_PROMPT.search(text) or _PASSWORD_PROMPT.search(text))


def _identify_banner(port: int, banner: bytes) -> ServiceIdentity | None:
    """What a service's unprompted first words say it is (telnet, SSH, FTP, a login prompt), if anything."""
    greeting = _greeting(port, banner)
    if greeting is not None:
        return greeting
    text = _strip_telnet(banner)
    if _prompt_in(text):
        return ServiceIdentity(port, "login-prompt", f"prompt {sample(text[-SAMPLE_CHARS:])}")
    return None


def identify_tcp_service(host: str, port: int, timeout: float = REPLY_TIMEOUT_S) -> ServiceIdentity:
    """Talk to `host:port` and say what answered (ServiceIdentity)."""
    with _Exchange(host, port, timeout) as talk:
        if talk.sock is None:
            return ServiceIdentity(port, "closed", talk.error)
        banner = talk.read(
            until=lambda got: bool(
                _greeting_complete(got) or _SHELL_PROMPT.search(got) or _LOGIN_PROMPT.search(got)
            )
        )
        by_banner = _identify_banner(port, banner)
        if by_banner is not None:
            return by_banner
        talk.send(SHELL_PROBE)
        # A service that was silent so far may be a slow server whose greeting is still coming.
        reply = talk.read(
            until=lambda got: (
                SHELL_ANSWER in got or (not banner and (_greeting_complete(got) or _telnet_negotiation(got)))
            )
        )
        if SHELL_ANSWER in reply:
            return ServiceIdentity(
                port,
                "shell",
                f"answered {SHELL_PROBE.strip().decode()!r} with HILSEC42 after {sample(banner)}",
            )
        late = _greeting(port, reply) if not banner else None
        if late is not None:
            return late
        if b"HTTP/" in reply[:64]:
            answer = reply[len(banner) :]
            return ServiceIdentity(
                port, "http", f"HTTP answer {sample(answer)}", _product(_HTTP_SERVER, answer)
            )
    with _Exchange(host, port, timeout) as talk:
        talk.send(_adb_connect())
        reply = talk.read(until=lambda got: len(got) >= 4)
        if reply[:4] in (b"CNXN", b"AUTH"):
            return ServiceIdentity(port, "adb", f"ADB answered {reply[:4].decode()}")
    with _Exchange(host, port, timeout) as talk:
        talk.send(b"\0hilsec\0hilsec\0vt100/9600\0")
        reply = talk.read(until=lambda got: len(got) >= 1)
        if reply[:1] == b"\0":
            return ServiceIdentity(port, "rlogin", f"rlogin handshake answered {sample(reply)}")
    with _Exchange(host, port, timeout) as talk:
        talk.send(b"GET / HTTP/1.0\r\n\r\n")
        reply = talk.read(until=lambda got: b"\r\n\r\n" in got)
        if reply.startswith(b"HTTP/"):
            status = sample(reply.splitlines()[0])
            return ServiceIdentity(port, "http", f"HTTP answer {status}", _product(_HTTP_SERVER, reply))
    return ServiceIdentity(port, "unknown", f"banner {sample(banner)}")


def identify_patiently(host: str, port: int) -> ServiceIdentity:
    """`identify_tcp_service`; when nothing was recognised, one more connection waits up to
    `PATIENT_BANNER_WAIT_S` for a first line and judges it by the banner rules."""
    identity = identify_tcp_service(host, port)
    if identity.kind != "unknown":
        return identity
    with _Exchange(host, port, PATIENT_BANNER_WAIT_S) as talk:
        first = talk.read(until=lambda got: b"\n" in got or _telnet_negotiation(got) or _prompted(got))
    return _identify_banner(port, first) or identity


@dataclass
class ServiceInventory:
    """Every TCP service the lab found on the device (a full port scan, then each open port
    identified), or why it could not look."""

    scan: PortScan | None = None
    services: dict[int, ServiceIdentity] = field(default_factory=dict)
    why_not: str = ""

    @property
    def available(self) -> bool:
        return self.scan is not None

    def of_kind(self, *kinds: str) -> list[ServiceIdentity]:
        return [service for _, service in sorted(self.services.items()) if service.kind in kinds]

    def summary(self) -> str:
        if not self.available:
            return f"no service inventory: {self.why_not}\n"
        return "identified:\n" + "".join(f"  {service}\n" for _, service in sorted(self.services.items()))


def take_inventory(network: LabAddressing) -> ServiceInventory:
    """Scan every TCP port from the lab side and identify what answers on each open one."""
    reachable, why_not = network.whole_network()
    if not reachable:
        return ServiceInventory(why_not=why_not)
    sources = (network.bind_address, *network.scanner_addresses) if network.scanner_addresses else ("",)
    try:
        with network.lab_side():
            scan = scan_device(network.device_address, source_addresses=sources)
    except PermissionError as err:
        return ServiceInventory(why_not=f"the scan's raw sockets need root on the lab host: {err}")
    return ServiceInventory(scan, identify_ports(network, scan.tcp_open))


def identify_ports(network: LabAddressing, ports: list[int]) -> dict[int, ServiceIdentity]:
    """`identify_patiently` on each port from the lab side, up to `IDENTIFY_WORKERS` ports at once."""

    def identify(port: int) -> ServiceIdentity:
        with network.lab_side():  # each worker thread enters the lab network itself
            host, host_port = network.endpoint("tcp", port)
            identity = identify_patiently(host, host_port)
        return ServiceIdentity(port, identity.kind, identity.evidence, identity.product)

    if not ports:
        return {}
    with ThreadPoolExecutor(
        max_workers=min(IDENTIFY_WORKERS, len(ports)), thread_name_prefix="hilsec-id"
    ) as pool:
        return dict(zip(ports, pool.map(identify, ports), strict=True))

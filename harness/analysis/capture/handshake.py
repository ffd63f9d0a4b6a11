"""ClientHello / ServerHello parsing shared by the DTLS and TLS paths.

Only the fields a verdict needs: the offered suites, the chosen suite and the protocol version
(the ``supported_versions`` extension overrides the legacy version field for TLS 1.3 / DTLS 1.3).
"""

from __future__ import annotations

from dataclasses import dataclass, field

CLIENT_HELLO = 1
SERVER_HELLO = 2
EXT_SUPPORTED_VERSIONS = 0x002B
EXT_CONNECTION_ID = 0x0036  # RFC 9146
EXT_CONNECTION_ID_DRAFT = 0x0035
# ServerHello.random of a TLS 1.3 HelloRetryRequest (RFC 8446 4.1.3): not the final answer.
HELLO_RETRY_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")

VERSION_NAMES = {
    0x0002: "SSL 2.0",
    0x0300: "SSL 3.0",
    0x0301: "TLS 1.0",
    0x0302: "TLS 1.1",
    0x0303: "TLS 1.2",
    0x0304: "TLS 1.3",
    0x0100: "DTLS 1.0 (OpenSSL pre 0.9.8f)",
    0xFEFF: "DTLS 1.0",
    0xFEFD: "DTLS 1.2",
    0xFEFC: "DTLS 1.3",
}


def version_name(version: int) -> str:
    """Human name of a wire version ("DTLS 1.2"), ``TLS 1.3 (draft N)`` or the hex value."""
    name = VERSION_NAMES.get(version)
    if name:
        return name
    if version >> 8 == 0x7F:
        return f"TLS 1.3 (draft {version & 0xFF})"
    return f"0x{version:04x}"


@dataclass
class ClientHello:
    version: int
    suites: list[int]
    supported_versions: list[int] = field(default_factory=list)
    connection_id: bytes | None = None


@dataclass
class ServerHello:
    version: int  # the negotiated one: supported_versions when present, else the legacy field
    suite: int
    retry: bool = False  # a TLS 1.3 HelloRetryRequest
    connection_id: bytes | None = None


class HelloParseError(ValueError):
    """A hello message shorter than its own length fields say."""


def _need(body: bytes, end: int) -> None:
    if end > len(body):
        raise HelloParseError(f"hello truncated: need {end} bytes, have {len(body)}")


def _extensions(body: bytes, offset: int) -> dict[int, bytes]:
    if offset + 2 > len(body):
        return {}
    total = int.from_bytes(body[offset : offset + 2], "big")
    offset += 2
    end = offset + total
    _need(body, end)
    found: dict[int, bytes] = {}
    while offset + 4 <= end:
        ext_type = int.from_bytes(body[offset : offset + 2], "big")
        length = int.from_bytes(body[offset + 2 : offset + 4], "big")
        offset += 4
        _need(body, offset + length)
        found.setdefault(ext_type, body[offset : offset + length])
        offset += length
    return found


def _connection_id(extensions: dict[int, bytes]) -> bytes | None:
    data = extensions.get(EXT_CONNECTION_ID, extensions.get(EXT_CONNECTION_ID_DRAFT))
    if not data:
        return None
    return data[1 : 1 + data[0]]


def parse_client_hello(body: bytes, *, dtls: bool) -> ClientHello:
    """Parse a ClientHello body (after the handshake header); HelloParseError if cut short."""
    _need(body, 35)
    version = int.from_bytes(body[0:2], "big")
    offset = 34
    offset += 1 + body[offset]  # session_id
    if dtls:
        _need(body, offset + 1)
        offset += 1 + body[offset]  # cookie
    _need(body, offset + 2)
    suites_len = int.from_bytes(body[offset : offset + 2], "big")
    offset += 2
    _need(body, offset + suites_len)
    suites = [int.from_bytes(body[i : i + 2], "big") for i in range(offset, offset + suites_len - 1, 2)]
    offset += suites_len
    _need(body, offset + 1)
    offset += 1 + body[offset]  # compression methods
    extensions = _extensions(body, offset)
    supported: list[int] = []
    data = extensions.get(EXT_SUPPORTED_VERSIONS)
    if data:
        supported = [int.from_bytes(data[i : i + 2], "big") for i in range(1, 1 + data[0] - 1, 2)]
    return ClientHello(version, suites, supported, _connection_id(extensions))


def parse_server_hello(body: bytes) -> ServerHello:
    """Parse a ServerHello body; the version is the one supported_versions selected if present."""
    _need(body, 35)
    version = int.from_bytes(body[0:2], "big")
    retry = body[2:34] == HELLO_RETRY_RANDOM
    offset = 34
    offset += 1 + body[offset]  # session_id
    _need(body, offset + 3)
    suite = int.from_bytes(body[offset : offset + 2], "big")
    offset += 3  # suite + compression method
    extensions = _extensions(body, offset)
    selected = extensions.get(EXT_SUPPORTED_VERSIONS)
    if selected and len(selected) >= 2:
        version = int.from_bytes(selected[0:2], "big")
    return ServerHello(version, suite, retry, _connection_id(extensions))

"""Is a TCP service on the device there? Used before concluding that a closed port is safe."""

from __future__ import annotations

import socket
from dataclasses import dataclass


@dataclass
class ServiceState:
    open: bool
    banner: bytes
    detail: str


def probe_tcp(host: str, port: int, timeout: float = 3.0) -> ServiceState:
    """Connect and read briefly: open with a banner, open and silent, or closed.

    Through QEMU's user-mode forward a closed guest port still accepts on the host side and then
    closes at once, so 'closed' means refused or closed without a byte.
    """
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as err:
        return ServiceState(False, b"", f"connect failed: {err}")
    with sock:
        sock.settimeout(timeout)
        try:
            banner = sock.recv(256)
        except TimeoutError:
            return ServiceState(True, b"", "open, sent nothing within the timeout")
        except OSError as err:
            return ServiceState(False, b"", f"closed: {err}")
    if not banner:
        return ServiceState(False, b"", "closed by the device without a byte")
    return ServiceState(True, banner, f"open, banner {banner[:60]!r}")

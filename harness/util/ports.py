"""A free port on an address: the one helper for 'let the OS pick a port'."""

from __future__ import annotations

import socket


def free_port(protocol: str = "tcp", host: str = "127.0.0.1") -> int:
    """A port nothing on `host` listens on right now (the OS picks it)."""
    kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])

"""What an SSH service offers on the wire: its KEX, host-key, cipher and MAC algorithms, and the
host key behind each host-key algorithm.

The algorithm lists come from ssh-audit (a maintained SSH auditor; its JSON output, run with
bounded time and output), the host keys from paramiko: one key exchange per offered host-key
algorithm that asks for that algorithm only, so the evidence says which keys the server really
signs with (and their size), not only what its KEXINIT names. A server that names an algorithm
but closes the connection when a client picks it (dropbear 2022.83 names rsa-sha2-256 and
ssh-rsa without an RSA key) is recorded as `refused`. Whatever the device sends is kept only as
bounded, escaped text.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import subprocess
import sys
from dataclasses import dataclass, field, replace

from harness.probes.service_id import sample

SSH_AUDIT_TIMEOUT_S = 5  # ssh-audit's own per-connection read timeout
SSH_AUDIT_RUN_TIMEOUT_S = 60.0
MAX_AUDIT_OUTPUT = 1 << 20
MAX_NAMES = 64  # per list: more is a hostile or broken server, kept only in part
KEX_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 5.0
_ALGORITHM_NAME = re.compile(r"[A-Za-z0-9@._+-]{1,64}")


def _name(raw: object) -> str:
    """An algorithm name as the device sent it, escaped and bounded when it is not a plain name."""
    text = str(raw)
    return text if _ALGORITHM_NAME.fullmatch(text) else sample(text.encode("utf-8", "backslashreplace"))


@dataclass(frozen=True)
class HostKey:
    """What one host-key algorithm gave: `served` (a key: its type and size in bits), `refused`
    (the server closed the connection when it was picked) or `error` (not learnt: `detail` says why)."""

    algorithm: str
    state: str
    key_type: str = ""
    bits: int | None = None
    detail: str = ""
    fingerprint: str = ""  # SHA256, base64 without padding, as OpenSSH prints it

    def describe(self) -> str:
        if self.state == "served":
            size = f"{self.bits} bits" if self.bits else "size not learnt"
            return f"{self.algorithm}: {self.key_type} {size}"
        return f"{self.algorithm}: {self.state} ({self.detail})"


@dataclass
class SshOffer:
    """One SSH service's offer, or why it could not be read (`error`)."""

    port: int
    banner: str = ""
    kex: list[str] = field(default_factory=list)
    host_key: list[str] = field(default_factory=list)
    ciphers: list[str] = field(default_factory=list)
    macs: list[str] = field(default_factory=list)
    host_keys: list[HostKey] = field(default_factory=list)
    error: str = ""

    def summary(self) -> str:
        if self.error:
            return f"tcp/{self.port}: not read: {self.error}\n"
        lines = [f"tcp/{self.port}: {self.banner}"]
        for what, names in (("kex", self.kex), ("host key", self.host_key), ("ciphers", self.ciphers), ("macs", self.macs)):  # fmt: skip
            lines.append(f"  {what}: {', '.join(names)}")
        lines += [f"  host key {key.describe()}" for key in self.host_keys]
        return "\n".join(lines) + "\n"


def _names(entries: object) -> list[str]:
    if not isinstance(entries, list):
        return []
    names = [_name(e.get("algorithm", "")) for e in entries[:MAX_NAMES] if isinstance(e, dict)]
    return [n for n in names if n]


def audit_algorithms(host: str, port: int, device_port: int) -> SshOffer:
    """The algorithm lists of the SSH server at host:port (ssh-audit's JSON)."""
    command = [sys.executable, "-m", "ssh_audit", "-j", "--skip-rate-test", "-n",
               "-t", str(SSH_AUDIT_TIMEOUT_S), "-p", str(port), host]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, timeout=SSH_AUDIT_RUN_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return SshOffer(device_port, error=f"ssh-audit did not finish within {SSH_AUDIT_RUN_TIMEOUT_S:g} s")
    except OSError as err:
        return SshOffer(device_port, error=f"ssh-audit could not run: {err}")
    if len(done.stdout) > MAX_AUDIT_OUTPUT:
        return SshOffer(device_port, error=f"ssh-audit wrote more than {MAX_AUDIT_OUTPUT} bytes")
    try:
        report = json.loads(done.stdout)
    except ValueError:
        said = sample((done.stdout or done.stderr).strip()[-200:])
        return SshOffer(device_port, error=f"ssh-audit gave no JSON (exit {done.returncode}): {said}")
    if not isinstance(report, dict) or not isinstance(report.get("kex"), list):
        return SshOffer(device_port, error="ssh-audit's JSON has no key-exchange list")
    banner = report.get("banner") or {}
    return SshOffer(
        device_port,
        banner=_name(banner.get("raw", "")) if isinstance(banner, dict) and banner.get("raw") else "",
        kex=_names(report.get("kex")),
        host_key=_names(report.get("key")),
        ciphers=_names(report.get("enc")),
        macs=_names(report.get("mac")),
    )


def _fingerprint(blob: bytes) -> str:
    return base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def fetch_host_key(host: str, port: int, algorithm: str) -> HostKey:
    """The key the server signs with when a client accepts only `algorithm` (paramiko)."""
    import paramiko

    try:
        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
    except OSError as err:
        return HostKey(algorithm, "error", detail=f"connect failed: {err}")
    transport = paramiko.Transport(sock)
    transport.banner_timeout = KEX_TIMEOUT_S
    transport.handshake_timeout = KEX_TIMEOUT_S
    try:
        try:
            transport.get_security_options().key_types = [algorithm]
        except ValueError:
            return _openssh_host_key(host, port, algorithm)
        try:
            transport.start_client(timeout=KEX_TIMEOUT_S)
        except EOFError:
            return HostKey(
                algorithm, "refused", detail="the server closed the connection in the key exchange"
            )
        except (paramiko.SSHException, OSError) as err:
            return HostKey(algorithm, "error", detail=sample(str(err).encode()))
        key = transport.get_remote_server_key()
        return HostKey(
            algorithm, "served", key.get_name(), int(key.get_bits()), fingerprint=_fingerprint(key.asbytes())
        )
    finally:
        transport.close()


_SERVER_HOST_KEY = re.compile(rb"Server host key: (\S{1,64}) SHA256:([A-Za-z0-9+/]{43})")


def _openssh_host_key(host: str, port: int, algorithm: str) -> HostKey:
    """What paramiko will not negotiate (ssh-rsa's SHA-1 signatures): OpenSSH's client, asked
    for `algorithm` only, says whether the server signed with it and the key's fingerprint."""
    command = ["ssh", "-vv", "-o", f"HostKeyAlgorithms={algorithm}", "-o", "BatchMode=yes",
               "-o", "PreferredAuthentications=none", "-o", "StrictHostKeyChecking=no",
               "-o", "UserKnownHostsFile=/dev/null", "-o", f"ConnectTimeout={CONNECT_TIMEOUT_S:g}",
               "-p", str(port), f"hilsec-probe@{host}", "true"]  # fmt: skip
    try:
        done = subprocess.run(
            command, capture_output=True, timeout=KEX_TIMEOUT_S * 2, stdin=subprocess.DEVNULL, check=False
        )
    except subprocess.TimeoutExpired:
        return HostKey(algorithm, "error", detail="OpenSSH's client did not finish")
    except OSError as err:
        return HostKey(algorithm, "error", detail=f"OpenSSH's client could not run: {err}")
    said = done.stderr[-MAX_AUDIT_OUTPUT:]
    found = _SERVER_HOST_KEY.search(said)
    if found:
        return HostKey(algorithm, "served", found.group(1).decode(), fingerprint=found.group(2).decode())
    if b"Connection closed by" in said or b"Connection reset by" in said:
        return HostKey(algorithm, "refused", detail="the server closed the connection in the key exchange")
    last = said.strip().splitlines()[-1:] or [b""]
    return HostKey(algorithm, "error", detail=f"OpenSSH's client: {sample(last[0])}")


def _sized(keys: list[HostKey]) -> list[HostKey]:
    """A key OpenSSH's client saw gets its size from the same key (same fingerprint) paramiko read."""
    bits = {key.fingerprint: key.bits for key in keys if key.fingerprint and key.bits}
    return [
        replace(key, bits=bits.get(key.fingerprint)) if key.state == "served" and key.bits is None else key
        for key in keys
    ]


def observe_ssh(host: str, port: int, device_port: int) -> SshOffer:
    """ssh-audit's lists, then one key exchange per offered host-key algorithm."""
    offer = audit_algorithms(host, port, device_port)
    if not offer.error:
        offer.host_keys = _sized([fetch_host_key(host, port, algorithm) for algorithm in offer.host_key])
    return offer

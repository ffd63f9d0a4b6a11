"""Trying a username and password on a device's network login services (telnet, SSH).

Each attempt is its own connection with its own transcript, so the evidence shows exactly what
the device answered to each credential.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import DeviceDisconnected, DeviceError
from harness.results.redact import redact_text
from harness.transports.console import Console, LoginSettings
from harness.transports.stream import ProcessStream, TelnetStream
from harness.util.text import MASK

SSH_CLIENT_OPTIONS = (
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "PubkeyAuthentication=no",
    "-o", "PreferredAuthentications=password,keyboard-interactive",
    "-o", "NumberOfPasswordPrompts=1",
    "-o", "ConnectTimeout=10",
    "-o", "LogLevel=ERROR",
)  # fmt: skip

_SSH_DENIED = r"Permission denied|Authentication failed|Too many authentication failures"
_SSH_CLOSED = r"Connection (refused|closed|reset)|kex_exchange_identification|Could not resolve"


@dataclass
class LoginAttempt:
    """What one credential got: accepted (a shell), refused, or the service was not there."""

    username: str
    accepted: bool
    service_present: bool = True
    detail: str = ""


def try_telnet_login(
    host: str, port: int, username: str, password: str, settings: LoginSettings, *,
    transcript: Path | None, secrets: list[str], timeout: float,
) -> LoginAttempt:  # fmt: skip
    try:
        stream = TelnetStream(host, port, timeout=timeout)
    except DeviceError as err:
        return LoginAttempt(username, False, service_present=False, detail=str(err))
    console = Console(stream, name=f"telnet {host}:{port}", secrets=secrets, default_timeout=timeout)
    if transcript is not None:
        console.start_transcript(transcript)
    try:
        accepted = console.try_login(username, password, settings, timeout=timeout)
        return LoginAttempt(username, accepted, detail="shell" if accepted else "refused")
    except DeviceDisconnected as err:
        return LoginAttempt(username, False, service_present=False, detail=f"connection closed: {err}")
    finally:
        console.close()


def try_ssh_login(
    host: str, port: int, username: str, password: str, settings: LoginSettings, *,
    transcript: Path | None, secrets: list[str], timeout: float,
) -> LoginAttempt:  # fmt: skip
    argv = ["ssh", "-p", str(port), *SSH_CLIENT_OPTIONS, f"{username}@{host}"]
    stream = ProcessStream(argv)
    console = Console(stream, name=f"ssh {host}:{port}", secrets=secrets, default_timeout=timeout)
    if transcript is not None:
        console.start_transcript(transcript)
    try:
        first = console.expect([settings.password_prompt, _SSH_DENIED, _SSH_CLOSED], timeout=timeout)
        if first == 1:
            return LoginAttempt(username, False, detail="password authentication not offered")
        if first == 2:
            return LoginAttempt(username, False, service_present=False, detail="SSH connection closed")
        console.sendline(password, secret=True)
        answer = console.expect(
            [settings.shell_prompt, _SSH_DENIED, settings.password_prompt], timeout=timeout
        )
        accepted = answer == 0
        if accepted:
            console.sendline("exit")
        return LoginAttempt(username, accepted, detail="shell" if accepted else "refused")
    except DeviceDisconnected as err:
        return LoginAttempt(username, False, service_present=False, detail=f"connection closed: {err}")
    finally:
        console.close()


def try_ftp_login(
    host: str, port: int, username: str, password: str, settings: LoginSettings, *,
    transcript: Path | None, secrets: list[str], timeout: float,
) -> LoginAttempt:  # fmt: skip
    """An FTP USER/PASS exchange (stdlib ftplib): 230 is a login; the transcript is redacted."""
    import ftplib

    lines: list[str] = []
    try:
        client = ftplib.FTP(timeout=timeout)
        client.connect(host, port)
        lines.append(f"< {client.getwelcome()}")
    except (OSError, EOFError, ftplib.Error) as err:
        return LoginAttempt(username, False, service_present=False, detail=f"FTP connect failed: {err}")
    try:
        lines.append(f"> USER {username}")
        lines.append(f"> PASS {MASK}")
        answer = client.login(username, password)
        lines.append(f"< {answer}")
        return LoginAttempt(username, True, detail="logged in")
    except ftplib.error_perm as err:
        lines.append(f"< {err}")
        return LoginAttempt(username, False, detail="refused")
    except (OSError, EOFError, ftplib.Error) as err:
        return LoginAttempt(username, False, service_present=False, detail=f"connection closed: {err}")
    finally:
        client.close()
        if transcript is not None:
            transcript.write_text(redact_text("\n".join(lines) + "\n", [*secrets, password]))


LOGIN_METHODS = {"telnet": try_telnet_login, "ssh": try_ssh_login, "ftp": try_ftp_login}
# Which identified services (harness.probes.service_id kinds) each login method is tried on.
METHOD_FOR_KIND = {"telnet": "telnet", "login-prompt": "telnet", "ssh": "ssh", "ftp": "ftp"}

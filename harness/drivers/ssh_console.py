"""A shell over SSH: the OpenSSH client on a pseudo-terminal, from the lab side of the network.

The client asks for the password itself; the console's login logic answers it like any other
password prompt, so the password never appears on a command line.
"""

from __future__ import annotations

from harness.capabilities import ConsolePort, LabAddressing
from harness.device.registry import BuildContext, provides
from harness.transports.process import ProcessStream
from harness.transports.stream import ByteStream

SSH_OPTIONS = (
    "StrictHostKeyChecking=no",
    "UserKnownHostsFile=/dev/null",
    "PubkeyAuthentication=no",
    "PreferredAuthentications=keyboard-interactive,password",
    "NumberOfPasswordPrompts=1",
    "ConnectTimeout=10",
    "ServerAliveInterval=5",
    "ServerAliveCountMax=3",
    "LogLevel=ERROR",
)


class SshConsolePort(ConsolePort):
    def __init__(self, ctx: BuildContext, host: str, port: int, username: str, options: list[str]) -> None:
        self.ctx = ctx
        self.host, self.port, self.username = host, port, username
        self.options = [*SSH_OPTIONS, *options]
        self.description = f"ssh {username}@{host}:{port}"

    @property
    def follows_power(self) -> bool:
        return True  # the SSH server goes down with the device

    def argv(self) -> list[str]:
        options = [word for option in self.options for word in ("-o", option)]
        return ["ssh", "-tt", "-p", str(self.port), *options, f"{self.username}@{self.host}"]

    def open(self) -> ByteStream:
        addressing = self.ctx.shared.get(LabAddressing)
        argv = addressing.side.command(self.argv()) if addressing is not None else self.argv()
        return ProcessStream(argv)


@provides(ConsolePort)
def _ssh(ctx: BuildContext) -> SshConsolePort | None:
    ssh = ctx.profile.console.ssh
    if ssh is None:
        return None
    return SshConsolePort(
        ctx, str(ssh.host), int(ssh.port), str(ctx.profile.login.username), list(ssh.options)
    )

"""A console that is a local program on a pseudo-terminal (the `ssh` client, a shell, a simulator).

Programs that ask for passwords (ssh, login) insist on a terminal, so the child gets the slave
side of a pty as its controlling terminal; the window is 200 columns wide so the far side does
not wrap long command lines at 80.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import tty
from collections.abc import Mapping, Sequence

from harness.errors import DeviceDisconnected, DeviceError


def _become_terminal_owner() -> None:  # runs in the child, after setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class ProcessStream:
    """A ByteStream to a child process running on a pty."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        columns: int = 200,
        rows: int = 50,
        raw: bool = False,
    ) -> None:
        """`raw`: the pty passes every byte as is from the start (no echo, Ctrl-C is a byte, not
        SIGINT), for a child that is a serial line (QEMU's stdio) rather than a terminal program."""
        self.argv = list(argv)
        self.description = "process " + " ".join(self.argv)
        master, slave = os.openpty()
        if raw:
            tty.setraw(slave)
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        try:
            self.process = subprocess.Popen(
                self.argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=_become_terminal_owner,
                close_fds=True,
            )
        except OSError as error:
            os.close(master)
            raise DeviceError(f"cannot start {self.description}: {error}") from error
        finally:
            os.close(slave)
        self._fd = master
        self._closed = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def fileno(self) -> int:
        return self._fd

    def read(self, size: int, timeout: float) -> bytes:
        """Up to `size` bytes as soon as any arrive; b"" after `timeout` seconds of silence."""
        if self._closed:
            raise DeviceDisconnected(f"{self.description} is closed")
        ready, _, _ = select.select([self._fd], [], [], max(0.0, timeout))
        if not ready:
            return b""
        try:
            data = os.read(self._fd, size)
        except OSError as error:
            if error.errno == errno.EIO:  # Linux: the child closed its side of the pty
                raise DeviceDisconnected(f"{self.description}: the program ended") from error
            raise DeviceDisconnected(f"{self.description}: {error}") from error
        if not data:
            raise DeviceDisconnected(f"{self.description}: the program ended")
        return data

    def write(self, data: bytes) -> None:
        if self._closed:
            raise DeviceDisconnected(f"{self.description} is closed")
        view = memoryview(data)
        while view:
            _, ready, _ = select.select([], [self._fd], [], 10.0)
            if not ready:
                raise DeviceDisconnected(f"{self.description}: the program stopped reading for 10 s")
            try:
                written = os.write(self._fd, view)
            except OSError as error:
                raise DeviceDisconnected(f"{self.description}: {error}") from error
            view = view[written:]

    def close(self) -> None:
        """Close the pty and end the child's session: SIGHUP, then SIGKILL after 3 s."""
        if self._closed:
            return
        self._closed = True
        os.close(self._fd)
        if self.process.poll() is None:
            for sig, grace in ((signal.SIGHUP, 1.0), (signal.SIGTERM, 1.0), (signal.SIGKILL, 2.0)):
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.process.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        else:
            self.process.wait(timeout=0)

"""Expect on any byte stream: log in to a device console and run shell commands on it reliably.

Board consoles are hostile to naive expect scripts: they echo what we type, end lines with
`\\r\\r\\n`, send terminal escapes after prompts (busybox ash: `ESC[6n`), wrap long command lines
at 80 columns, and print kernel messages in the middle of a command's output. Two ideas make
this reliable:

* What the expect logic searches is a cleaned view of the stream (no escapes, no `\\r`, no kernel
  messages), while the transcript records the raw bytes, redacted. Both come from the same reads.
* A command's output is taken between two markers that only the *output* can contain
  (`echo H""SB<token>` prints `HSB<token>`; its echo still has the quotes), and the end marker
  carries `$?`. The echo, however wrapped or redrawn, is never parsed.

Whatever the device prints and whatever the profile's patterns are, no wait outlives its timeout:
a pattern is searched in at most the last SEARCH_WINDOW characters, by the `regex` engine with a
limit of SEARCH_BUDGET_S of CPU time a search. A prompt pattern needs microseconds there; one that
backtracks exponentially (`(a|aa)+$` on "aaaa...!") is cut off, never matches again in that
wait, and is named in the timeout. The engine's own limit is wall time, so a search that ran out
of it while the host was busy (little CPU spent in this thread) is searched again, never cut off. Unconsumed output is kept up to MAX_PENDING characters.
"""

from __future__ import annotations

import itertools
import re
import secrets as token_source
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pexpect
import regex
from pexpect.spawnbase import SpawnBase

from harness.errors import DeviceDisconnected, DeviceError, DeviceTimeout
from harness.results.redact import StreamRedactor, redact_text
from harness.transports.stream import ByteStream
from harness.util.deadlines import Deadline

SETTLE_SECONDS = 0.3  # output that keeps coming after a "prompt" means it was not the prompt
# A login prompt again right after the user name: a stray newline was read as an empty name
# before ours, and ours answers this prompt (a password prompt follows, late on a loaded
# device), or ours was lost. Only after this much quiet is the name typed again: typed too soon,
# it would be read as the password and a default credential would look refused.
REPROMPT_GRACE_S = 1.5
TAIL_CHARACTERS = 200  # how much recent output a timeout reports
SEARCH_WINDOW = 8192  # characters a pattern is searched in: the end of what has arrived
MAX_PENDING = 4 * 1024 * 1024  # unconsumed output kept (a command's output, at most)
SEARCH_BUDGET_S = 0.1  # CPU seconds one search may take before its pattern is cut off
SEARCH_WALL_S = 1.0  # the regex engine's limit per attempt (wall time: a busy host stretches it)
SEARCH_ATTEMPTS = 5  # attempts of a search the host kept from running (no CPU spent), then no match


@dataclass
class LoginSettings:
    username: str
    password: str
    login_prompt: str = r"login: ?$"
    password_prompt: str = r"[Pp]assword: ?$"
    shell_prompt: str = r"[#$] ?$"
    failure_pattern: str = r"Login incorrect"


@dataclass
class CommandResult:
    command: str
    output: str
    status: int

    @property
    def ok(self) -> bool:
        return self.status == 0


# --- cleaning the terminal stream ------------------------------------------------------------

_COMPLETE_ESCAPE = re.compile(
    r"\x1b(?:"
    r"\[[0-?]*[ -/]*[@-~]"  # CSI: ESC [ 6 n, ESC [ 0 ; 3 2 m, ...
    r"|\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: ESC ] 0 ; title BEL
    r"|[()*+#%][ -~]"  # charset selection: ESC ( B
    r"|[ -/]*[0-Z\\^-~]"  # other two-character escapes: ESC 7, ESC c, ESC =
    r")"
)
_INCOMPLETE_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?|[()*+#%]|[ -/]*)\Z")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # everything but \t and \n, including \r and ESC
_KERNEL_MESSAGE = re.compile(r"\[ *\d+\.\d{6}\][^\n]*\n")
_OPEN_KERNEL_MESSAGE = re.compile(r"\[ *\d+\.\d{6}\][^\n]*\Z|\[ *(?:\d+(?:\.\d{0,6})?)?\Z")
_MAX_HELD = 2048  # never hold back more than this: a console that stops mid-"escape" is garbage


class TerminalCleaner:
    """Turns terminal output into plain text, incrementally (a chunk may end mid-sequence).

    Removes escape sequences, carriage returns and other control characters, and (while
    `strip_kernel_messages` is set) kernel log lines such as `[   12.345678] eth0: link up`,
    even when they cut into the middle of a line. An incomplete sequence at the end of a chunk
    is held back until the next chunk or `flush()`.
    """

    def __init__(self, strip_kernel_messages: bool = True) -> None:
        self.strip_kernel_messages = strip_kernel_messages
        self._held = ""

    def feed(self, text: str) -> str:
        text = _COMPLETE_ESCAPE.sub("", self._held + text)
        held = ""
        incomplete = _INCOMPLETE_ESCAPE.search(text)
        if incomplete and len(text) - incomplete.start() < _MAX_HELD:
            held = text[incomplete.start() :]
            text = text[: incomplete.start()]
        text = _CONTROL.sub("", text)
        if self.strip_kernel_messages:
            text = _KERNEL_MESSAGE.sub("", text)
            opened = _OPEN_KERNEL_MESSAGE.search(text)
            if opened and len(text) - opened.start() + len(held) < _MAX_HELD:
                held = text[opened.start() :] + held
                text = text[: opened.start()]
        self._held = held
        return text

    def flush(self) -> str:
        """Give up waiting for the rest of a held-back sequence (the stream went quiet)."""
        held, self._held = self._held, ""
        return _CONTROL.sub("", _COMPLETE_ESCAPE.sub("", held))


# --- transcripts -----------------------------------------------------------------------------


class _Transcript:
    """One transcript file: raw bytes in both directions, each direction redacted on its own."""

    def __init__(self, path: Path, secrets: Sequence[str]) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO = path.open("wb")
        self.read_log = _RedactingLog(StreamRedactor(secrets, self._file.write), self._file)
        self.send_log = _RedactingLog(StreamRedactor(secrets, self._file.write), self._file)

    def close(self) -> None:
        self.read_log.redactor.flush()
        self.send_log.redactor.flush()
        self._file.close()


class _RedactingLog:
    """The file-like object pexpect's logfile_read / logfile_send write to."""

    def __init__(self, redactor: StreamRedactor, file: BinaryIO) -> None:
        self.redactor = redactor
        self._file = file

    def write(self, data: bytes) -> None:
        self.redactor.write(data)

    def write_masked(self, data: bytes) -> None:
        self.redactor.write_masked(data)

    def flush(self) -> None:
        self._file.flush()


# --- patterns with a time limit -------------------------------------------------------------


class TimedPattern:
    """A compiled pattern whose every search is bounded (pexpect's searcher calls `search`).

    A search that spends SEARCH_BUDGET_S of this thread's CPU sets `timed_out`: the pattern then
    matches nothing for the rest of the wait, which ends at its timeout as if the prompt had never
    come. One that ran out of wall time without spending that CPU (the host was busy) is tried again.
    """

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.compiled = regex.compile(pattern)
        self.timed_out = False

    def search(self, text: str, pos: int = 0) -> regex.Match[str] | None:
        for _ in range(SEARCH_ATTEMPTS):
            if self.timed_out:
                return None
            started = time.thread_time()
            try:
                return self.compiled.search(text, pos, timeout=SEARCH_WALL_S)
            except TimeoutError:
                self.timed_out = time.thread_time() - started >= SEARCH_BUDGET_S
        return None


# --- pexpect over a ByteStream ---------------------------------------------------------------


class StreamSpawn(SpawnBase):
    """pexpect over a ByteStream: raw bytes to the logs, cleaned text to the matcher."""

    def __init__(self, stream: ByteStream, *, timeout: float, char_delay: float = 0.0) -> None:
        super().__init__(
            timeout=timeout,
            maxread=4096,
            searchwindowsize=SEARCH_WINDOW,
            encoding="utf-8",
            codec_errors="replace",
        )
        self.stream = stream
        self.cleaner = TerminalCleaner()
        self.char_delay = char_delay
        self.recent = ""  # the last characters seen, consumed or not, for error messages
        self.received = 0  # raw bytes read so far: whether a device printed anything at all
        self.closed = False
        self.dropped = 0  # unconsumed characters forgotten to stay within MAX_PENDING

    def read_nonblocking(self, size: int = 1, timeout: float | None = -1) -> str:
        if timeout is None or timeout == -1:
            timeout = self.timeout
        try:
            raw = self.stream.read(size, max(0.0, timeout))
        except DeviceDisconnected as error:
            self.flag_eof = True
            raise pexpect.EOF(str(error)) from error
        if not raw:
            text = self.cleaner.flush()
            if not text:
                raise pexpect.TIMEOUT("no data within the timeout")
        else:
            self.received += len(raw)
            self._log(raw, "read")
            text = self.cleaner.feed(self._decoder.decode(raw))
        self.recent = (self.recent + text)[-TAIL_CHARACTERS:]
        self._bound_pending()
        return text

    def _bound_pending(self) -> None:
        """Keep the unconsumed text (pexpect's `before` so far) within MAX_PENDING characters."""
        if self._before.tell() <= MAX_PENDING:
            return
        kept = self._before.getvalue()[-(MAX_PENDING // 2) :]
        self.dropped += self._before.tell() - len(kept)
        self._before = self.buffer_type()
        self._before.write(kept)

    def send(self, s: str | bytes, *, secret: bool = False) -> int:
        data = s.encode("utf-8") if isinstance(s, str) else s
        if secret:
            if self.logfile_send is not None:
                self.logfile_send.write_masked(data)
                self.logfile_send.flush()
        else:
            self._log(data, "send")
        if self.char_delay > 0:
            for index in range(len(data)):
                self.stream.write(data[index : index + 1])
                time.sleep(self.char_delay)
        else:
            self.stream.write(data)
        return len(data)

    def discard_pending(self) -> None:
        """Forget unconsumed text (after a settle, so an old prompt cannot match later)."""
        self._buffer = self.buffer_type()
        self._before = self.buffer_type()

    def pending_text(self) -> str:
        return self._before.getvalue()


# --- the console -----------------------------------------------------------------------------


class Console:
    """Drives a device console (a serial port, telnet, ssh, a socket) like a careful person would.

    Every wait has a deadline (DeviceTimeout names what was awaited and the last characters
    seen); a closed stream is DeviceDisconnected. Patterns are regular expressions matched
    against the cleaned text (see TerminalCleaner); `$` means "at the end of what has arrived".
    """

    _tokens = itertools.count(1)

    def __init__(
        self,
        stream: ByteStream,
        *,
        name: str,
        secrets: Sequence[str] = (),
        default_timeout: float = 30.0,
        linesep: str = "\n",
        char_delay: float = 0.0,
        wake_interval: float = 2.0,
    ) -> None:
        self.stream = stream
        self.name = name
        self.default_timeout = default_timeout
        self.linesep = linesep
        self.wake_interval = wake_interval
        self._secrets = [s for s in secrets if s]
        self._spawn = StreamSpawn(stream, timeout=default_timeout, char_delay=char_delay)
        self._transcript: _Transcript | None = None
        self._known_prompt: str | None = None  # "login" / "password" / "shell" if we left it there
        self.retyped_username = False  # the last login attempt had to type the user name again
        self._typed_secrets: set[str] = set()  # passwords tried: kept out of error messages
        self._slow_patterns: set[str] = set()  # patterns whose search a deadline cut off

    # -- secrets and transcripts --

    def add_secret(self, secret: str) -> None:
        """Redact `secret` from transcripts started from now on, and from error messages."""
        if secret and secret not in self._secrets:
            self._secrets.append(secret)

    def start_transcript(self, path: Path) -> None:
        """Record every byte read and written from now on into `path`, secrets redacted."""
        self.stop_transcript()
        self._transcript = _Transcript(Path(path), self._secrets)
        self._spawn.logfile_read = self._transcript.read_log
        self._spawn.logfile_send = self._transcript.send_log

    def stop_transcript(self) -> Path | None:
        transcript, self._transcript = self._transcript, None
        self._spawn.logfile_read = None
        self._spawn.logfile_send = None
        if transcript is None:
            return None
        transcript.close()
        return transcript.path

    # -- raw interaction --

    @property
    def before(self) -> str:
        """Cleaned text before the last match (or everything unmatched after a timeout)."""
        return self._spawn.before or ""

    @property
    def match(self) -> regex.Match[str] | None:
        match = self._spawn.match
        return match if isinstance(match, regex.Match) else None

    def send(self, text: str, *, secret: bool = False) -> None:
        """Type `text`. With `secret` (a password), the transcript gets `********` instead, and
        an echo of it from the device is redacted too."""
        self._known_prompt = None
        if secret:
            self._note_typed_secret(text.rstrip("\r\n"))
        self._spawn.send(text, secret=secret)

    def sendline(self, text: str = "", *, secret: bool = False) -> None:
        self.send(text + self.linesep, secret=secret)

    def _note_typed_secret(self, secret: str) -> None:
        if not secret:
            return
        self._typed_secrets.add(secret)
        if self._transcript is not None:
            self._transcript.read_log.redactor.add_secrets([secret])

    def expect(self, patterns: list[str], timeout: float | None = None) -> int:
        """Index of the first pattern that matches; DeviceTimeout / DeviceDisconnected otherwise."""
        self._known_prompt = None
        seconds = self._timeout(timeout)
        index = self._wait(list(patterns), seconds)
        if index is None:
            raise self._timeout_error(" or ".join(repr(p) for p in patterns), seconds)
        return index

    # -- login --

    def login(self, settings: LoginSettings, timeout: float | None = None) -> None:
        """Get a shell: log in, or accept one that is already open. DeviceError if refused."""
        if not self.try_login(
            settings.username, settings.password, settings, timeout, accept_open_shell=True
        ):
            raise DeviceError(f"{self.name}: the device refused the login as {settings.username!r}")

    def try_login(
        self,
        username: str,
        password: str,
        settings: LoginSettings,
        timeout: float | None = None,
        *,
        accept_open_shell: bool = False,
        public_password: bool = False,
    ) -> bool:
        """Try one user name and password. True: shell; False: refused; DeviceTimeout: neither.

        An open shell is logged out first (`exit`) so the credentials are really tried, unless
        `accept_open_shell`; a console that gives a shell again without asking counts as True.
        A console that asks for the password first (ssh) gets the password. A shell is left at
        its settled prompt, which `still_at("shell")` can vouch for without probing it again.
        A typed password is kept out of the transcript and error messages unless
        `public_password` (a well-known default from a published list): masking "root" or
        "admin" wherever the device prints them hid user names and host names in the evidence.
        """
        accepted = self._attempt_login(
            username, password, settings, timeout, accept_open_shell, public_password
        )
        if accepted:
            self._known_prompt = "shell"  # every way to True ends at a settled, consumed shell prompt
        return accepted

    def _attempt_login(
        self,
        username: str,
        password: str,
        settings: LoginSettings,
        timeout: float | None,
        accept_open_shell: bool,
        public_password: bool,
    ) -> bool:
        self.add_secret(settings.password)
        seconds = self._timeout(timeout)
        deadline = Deadline.after(seconds)
        prompts = _LoginPatterns(settings)
        exits = 0
        where = self._known_prompt or self._reach_prompt(prompts, deadline)
        self._known_prompt = None
        while where == "shell":
            if accept_open_shell:
                where = self._confirm_shell(prompts, deadline)
                if where == "shell":
                    return True
                continue
            if exits == 2:
                return True  # a shell again after two logouts: this console asks for nothing
            exits += 1
            self._spawn.send("exit" + self.linesep)
            where = self._reach_prompt(prompts, deadline, wake=False)
        self.retyped_username = False
        if self._credential_round(username, password, prompts, deadline, where, public_password):
            return True
        if not self.retyped_username:
            return False
        # The name was typed twice, so this refusal may be of the name read as the password:
        # the credential is tried once more from the prompt the refusal left.
        self.retyped_username = False
        where = self._known_prompt or self._reach_prompt(prompts, deadline)
        self._known_prompt = None
        if self._credential_round(username, password, prompts, deadline, where, public_password):
            return True
        if self.retyped_username:
            raise DeviceError(
                f"{self.name}: the console asked for the user name twice in two attempts with "
                f"{username!r}, so its refusal may be of the name read as the password"
            )
        return False

    def _credential_round(
        self,
        username: str,
        password: str,
        prompts: _LoginPatterns,
        deadline: Deadline,
        where: str,
        public_password: bool,
    ) -> bool:
        """One user name and password from a login (or password) prompt; True: a shell."""
        if where == "shell":
            return True  # a shell without being asked for anything
        if where == "login":
            outcome = self._give_username(username, prompts, deadline)
            if outcome != "password":
                return outcome == "shell"
        return self._give_password(password, prompts, deadline, public_password)

    def _reach_prompt(self, prompts: _LoginPatterns, deadline: Deadline, wake: bool = True) -> str:
        """Wait for a login, password or shell prompt that stays the last word on the console.

        Sends a newline whenever the console has been silent for `wake_interval` seconds. A stray
        newline that reaches `login` makes it prompt twice; settling catches the second prompt.
        """
        patterns = [prompts.login, prompts.password, prompts.shell, prompts.failure]
        names = ["login", "password", "shell", "failure"]
        last_wake = time.monotonic() if not wake else 0.0
        while True:
            remaining = deadline.remaining()
            if remaining <= 0:
                raise self._timeout_error("a login, password or shell prompt", None)
            wait = min(remaining, self.wake_interval if wake else remaining)
            index = self._wait(patterns, wait)
            if index is None:
                if wake and time.monotonic() - last_wake >= self.wake_interval:
                    self._spawn.send(self.linesep)
                    last_wake = time.monotonic()
                continue
            if names[index] == "failure":
                continue  # an earlier refusal; the login prompt follows
            if self._settled(deadline):
                return names[index]

    def _confirm_shell(self, prompts: _LoginPatterns, deadline: Deadline) -> str:
        """An open shell answers a newline with a fresh prompt."""
        self._spawn.send(self.linesep)
        return self._reach_prompt(prompts, deadline, wake=False)

    def _give_username(self, username: str, prompts: _LoginPatterns, deadline: Deadline) -> str:
        """Send the user name: "password" (asked for it), "shell" (none needed) or "refused"."""
        self._spawn.send(username + self.linesep)
        prompts_again = 0
        while True:
            index = self._wait_until(
                [prompts.password, prompts.shell, prompts.failure, prompts.login],
                deadline,
                "a password prompt after the user name",
            )
            if index == 0:
                return "password"
            if index == 1:
                if self._settled(deadline):
                    return "shell"
                continue
            if index == 2:
                self._await_next_prompt(prompts, deadline)
                return "refused"
            # A bare login prompt again: a stray newline was read as an empty user name.
            prompts_again += 1
            if not self._quiet_for(REPROMPT_GRACE_S, deadline):
                continue
            if prompts_again > 2:
                raise DeviceError(
                    f"{self.name}: the console asked for the user name again {prompts_again} times after "
                    f"{username!r} was typed, so the credential could not be tried"
                )
            self.retyped_username = True
            self._spawn.send(username + self.linesep)

    def _give_password(
        self, password: str, prompts: _LoginPatterns, deadline: Deadline, public: bool
    ) -> bool:
        if not public:
            self._note_typed_secret(password)  # a device that echoes it must not leak it either
        self._spawn.send(password + self.linesep, secret=not public)
        while True:
            index = self._wait_until(
                [prompts.shell, prompts.failure, prompts.login, prompts.password],
                deadline,
                "a shell prompt or a refusal after the password",
            )
            if index == 0:
                if self._settled(deadline):
                    return True
                continue  # more output followed (a banner line ending in '#'): not the prompt yet
            if index == 1:
                self._await_next_prompt(prompts, deadline)
            elif index == 2:
                self._known_prompt = "login" if self._settled(deadline) else None
            else:
                self._known_prompt = "password" if self._settled(deadline) else None
            return False

    def _await_next_prompt(self, prompts: _LoginPatterns, deadline: Deadline) -> None:
        """After a refusal, wait (within the deadline) for the next prompt and remember it.

        busybox login sleeps ~3 s before it prompts again; consuming that prompt here keeps it
        from being mistaken for anything by the next attempt.
        """
        index = self._wait([prompts.login, prompts.password], deadline.remaining())
        if index is not None and self._settled(deadline):
            self._known_prompt = ("login", "password")[index]

    @property
    def bytes_received(self) -> int:
        """How many bytes the device has sent on this console (kernel messages and escapes included)."""
        return self._spawn.received

    def note_login_prompt(self) -> None:
        """The caller saw a login prompt settle (and consumed it): the next login starts there
        instead of waiting for the console to repeat it."""
        self._known_prompt = "login"

    def still_at(self, where: str) -> bool:
        """True if the console was left at this settled prompt ("login", "password", "shell") and
        has printed nothing but whitespace since, looked at now without waiting: the caller may act
        on that prompt without probing it again (a newline and a settle). Anything else that
        arrived stays unconsumed for whoever looks next."""
        if self._known_prompt != where:
            return False
        if self._quiet_for(0.0, Deadline.after(0.0)):
            return True
        self._known_prompt = None
        return False

    def recent_output(self) -> str:
        """The last characters the console printed (cleaned, secrets redacted), for error messages."""
        return self._redact(self._tail())

    def settled(self, quiet: float = SETTLE_SECONDS) -> bool:
        """True if nothing but whitespace has followed the last match for `quiet` seconds."""
        return self._settled(Deadline.after(quiet))

    def _settled(self, deadline: Deadline) -> bool:
        """True if nothing but whitespace follows the last match for SETTLE_SECONDS."""
        return self._quiet_for(SETTLE_SECONDS, deadline)

    def _quiet_for(self, seconds: float, deadline: Deadline) -> bool:
        """True if nothing but whitespace follows the last match for `seconds` (within the deadline)."""
        quiet = min(seconds, deadline.remaining())
        pending = self._peek(quiet)
        if pending.strip():
            return False
        self._spawn.discard_pending()
        return True

    # -- commands --

    def run(
        self, command: str, timeout: float | None = None, *, keep_kernel_messages: bool = False
    ) -> CommandResult:
        """Run `command` in the device's POSIX shell and return its output and exit status.

        The output (stdout and stderr as the console shows them) has no echo, no markers, no
        escapes, `\\n` line endings and no final newline. Kernel messages are removed unless
        `keep_kernel_messages` (needed for `dmesg`). On timeout the command is interrupted with
        Ctrl-C before DeviceTimeout is raised.
        """
        self._known_prompt = None
        seconds = self._timeout(timeout)
        deadline = Deadline.after(seconds)
        token = f"{next(self._tokens)}x{token_source.token_hex(4)}"
        line = f'echo H""SB{token}; eval {shlex.quote(command)}; printf \'\\n%s:%s\\n\' H""SE{token} "$?"'
        start = f"HSB{token}\n"
        end = f"\nHSE{token}:(\\d+)\n"
        dropped_before = 0
        self._spawn.cleaner.strip_kernel_messages = not keep_kernel_messages
        try:
            self._spawn.send(line + self.linesep)
            for marker in (start, end):
                dropped_before = self._spawn.dropped  # what was dropped before the end marker counts
                if self._wait([marker], deadline.remaining()) is None:
                    self._interrupt()
                    raise self._timeout_error(f"the end of `{command}` (Ctrl-C sent)", seconds)
            if self._spawn.dropped != dropped_before:
                raise DeviceError(
                    f"{self.name}: `{command}` printed more than {MAX_PENDING} characters; "
                    "its output was not kept whole"
                )
            output = self._spawn.before or ""
            status = int(self._spawn.match.group(1))
        finally:
            self._spawn.cleaner.strip_kernel_messages = True
        return CommandResult(command=command, output=output.removesuffix("\n"), status=status)

    def _interrupt(self) -> None:
        try:
            self._spawn.send("\x03")
        except DeviceDisconnected:
            pass

    def close(self) -> None:
        self.stop_transcript()
        self.stream.close()

    def __enter__(self) -> Console:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- waiting --

    def _timeout(self, timeout: float | None) -> float:
        return self.default_timeout if timeout is None else timeout

    def _wait(self, patterns: list[str], timeout: float) -> int | None:
        """Index of the first pattern to match, None on timeout; DeviceDisconnected on EOF.

        Every search is bounded (see TimedPattern), so the wait ends by its timeout.
        """
        timeout = max(0.0, timeout)
        timed = [TimedPattern(pattern) for pattern in patterns]
        try:
            index = self._spawn.expect_list([*timed, pexpect.TIMEOUT], timeout=timeout)
        except pexpect.EOF as error:
            raise DeviceDisconnected(
                self._redact(f"{self.name}: {error}; last output: {self._tail()}")
            ) from None
        finally:
            self._slow_patterns.update(t.pattern for t in timed if t.timed_out)
        return None if index == len(patterns) else index

    def _wait_until(self, patterns: list[str], deadline: Deadline, awaited: str) -> int:
        index = self._wait(patterns, deadline.remaining())
        if index is None:
            raise self._timeout_error(awaited, None)
        return index

    def _peek(self, quiet: float) -> str:
        """Read until the console is quiet for `quiet` seconds; return what is unconsumed."""
        limit = Deadline.after(max(quiet * 10, 2.0))
        while True:
            seen = len(self._spawn.pending_text())
            self._wait([], quiet)
            if len(self._spawn.pending_text()) == seen or limit.expired:
                return self._spawn.pending_text()

    def _tail(self) -> str:
        return repr(self._spawn.recent) if self._spawn.recent else "nothing received"

    def _redact(self, text: str) -> str:
        return redact_text(text, [*self._secrets, *self._typed_secrets])

    def _timeout_error(self, awaited: str, seconds: float | None) -> DeviceTimeout:
        within = f" within {seconds:g} s" if seconds is not None else ""
        slow = ""
        if self._slow_patterns:
            names = ", ".join(repr(p) for p in sorted(self._slow_patterns))
            slow = f" (searching for {names} took over {SEARCH_BUDGET_S:g} s: a pattern that backtracks)"
            self._slow_patterns.clear()
        return DeviceTimeout(
            self._redact(
                f"{self.name} ({self.stream.description}): no {awaited}{within}{slow}; "
                f"last output: {self._tail()}"
            )
        )


class _LoginPatterns:
    def __init__(self, settings: LoginSettings) -> None:
        self.login = settings.login_prompt
        self.password = settings.password_prompt
        self.shell = settings.shell_prompt
        self.failure = settings.failure_pattern

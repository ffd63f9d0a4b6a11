"""Making untrusted text safe to show: control characters become visible escapes.

What a device prints (console output, syslog, HTTP paths, SIP headers) ends up in reasons,
findings, reports and the terminal. Raw, an escape sequence there retitles the terminal, writes
the clipboard (OSC 52) or hides text; a newline forges a line of output; a lone surrogate makes
UTF-8 encoders fail. `visible()` turns each of those characters into its Python escape, so it is
shown rather than acted on, and the text always encodes.
"""

from __future__ import annotations

import re

MASK = "********"  # what a secret (a password, a key) is shown as, wherever it would appear

# C0 controls but tab and newline, DEL, C1 controls (0x9b is an 8-bit CSI), bidirectional overrides
# and isolates (text shown in a different order than stored), line and paragraph separators, and
# lone surrogates (which no UTF-8 writer accepts).
_UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE_IN_TEXT = re.compile(f"[{_UNSAFE}]")
_UNSAFE_IN_LINE = re.compile(f"[\t\n{_UNSAFE}]")


_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, multiline: bool = True) -> str:
    """`text` with every control character shown as an escape (`\\x1b`, `\\u202e`, `\\ud800`).

    With `multiline` tabs and newlines stay as they are; without it they are escaped as well, so
    the result is exactly one line.
    """
    pattern = _UNSAFE_IN_TEXT if multiline else _UNSAFE_IN_LINE
    return pattern.sub(_escape, text)


def one_line(text: str) -> str:
    """`text` as exactly one safe line (newlines shown as `\\n`)."""
    return visible(text, multiline=False)


def bounded(text: str, limit: int) -> str:
    """At most `limit` characters of `text`, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def masked_identity(value: str) -> str:
    """A subscriber identity (IMSI, IMEI) as reports show it: the first 5 digits (MCC+MNC, part of
    the TAC) and the last 2, enough to tell devices apart without publishing the identity."""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:5] + "*" * (len(value) - 7) + value[-2:]

"""Dotted numeric versions as the update agent compares them ("1.0.10" is newer than "1.0.9")."""

from __future__ import annotations

import re

_DOTTED = re.compile(r"^\d+(\.\d+)*$")


def parse_version(text: str) -> tuple[int, ...]:
    """'1.0.3' -> (1, 0, 3); a suffix such as '-hardened' is ignored; ValueError otherwise."""
    core = text.strip().split("-", 1)[0]
    if not _DOTTED.match(core):
        raise ValueError(f"{text!r} is not a dotted numeric version")
    return tuple(int(part) for part in core.split("."))


def _render(parts: tuple[int, ...]) -> str:
    return ".".join(str(p) for p in parts)


def newer_version(text: str) -> str:
    """The next patch version after `text`: '1.0.3' -> '1.0.4'."""
    parts = parse_version(text)
    return _render((*parts[:-1], parts[-1] + 1))


def older_version(text: str) -> str | None:
    """A version strictly older than `text` ('1.0.3' -> '1.0.2', '1.0.0' -> '0.9.0'), or None at 0."""
    parts = list(parse_version(text))
    for index in range(len(parts) - 1, -1, -1):
        if parts[index] > 0:
            parts[index] -= 1
            for later in range(index + 1, len(parts)):
                parts[later] = 9
            return _render(tuple(parts))
    return None


def is_newer(candidate: str, running: str) -> bool:
    a, b = parse_version(candidate), parse_version(running)
    width = max(len(a), len(b))
    return a + (0,) * (width - len(a)) > b + (0,) * (width - len(b))

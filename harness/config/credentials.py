"""The list of well-known default credentials that default-password tests try."""

from __future__ import annotations

from pathlib import Path

from harness.errors import ConfigError

DEFAULT_CREDENTIALS_FILE = Path(__file__).resolve().parent.parent / "data" / "default_credentials.txt"


def load_default_credentials(path: str | Path | None = None) -> list[tuple[str, str]]:
    """(user, password) pairs from `user:password` lines.

    `#` starts a comment line; `user:` means an empty password; duplicates are dropped.
    """
    path = Path(path) if path is not None else DEFAULT_CREDENTIALS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found", "a credentials file with user:password lines") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, "", f"cannot read file ({exc})", "a readable UTF-8 text file") from None
    pairs: list[tuple[str, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, colon, password = line.partition(":")
        if not colon:
            raise ConfigError(
                path, f"line {number}", f"no ':' in {line!r}", "user:password (user: for no password)"
            )
        if not user:
            raise ConfigError(path, f"line {number}", "empty user name", "user:password")
        if (user, password) not in pairs:
            pairs.append((user, password))
    if not pairs:
        raise ConfigError(path, "", "no credentials in file", "at least one user:password line")
    return pairs

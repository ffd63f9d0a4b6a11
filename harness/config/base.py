"""Building blocks shared by the profile and lab models.

Every model forbids unknown keys, and every check a validator makes reports its problem and the
expected value separately, so the loader can turn it into one `ConfigError` line.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any

import regex
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

# Error type used by every hilsec validator; its ctx carries "problem" and "expected".
HILSEC_ERROR = "hilsec"
UNKNOWN_KEY_ERROR = "hilsec_unknown_key"


def problem(problem: str, expected: str) -> PydanticCustomError:
    """An error a validator raises: what is wrong and what would be right, kept apart."""
    return PydanticCustomError(
        HILSEC_ERROR, "{problem}; expected {expected}", {"problem": problem, "expected": expected}
    )


def closest(word: str, candidates: list[str]) -> str | None:
    """The candidate most like `word` (a typo's likely intent), or None."""
    matches = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in candidates}
        matches = [
            lowered[m] for m in difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
        ]
    return matches[0] if matches else None


class StrictModel(BaseModel):
    """A config section: unknown keys are errors that name the closest valid key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        valid = [info.alias or name for name, info in cls.model_fields.items()]
        for key in data:
            if key not in valid:
                suggestion = closest(str(key), valid)
                raise PydanticCustomError(
                    UNKNOWN_KEY_ERROR,
                    "unknown key {key}",
                    {"key": str(key), "suggestion": suggestion or "", "valid": ", ".join(valid)},
                )
        return data


def _check_regex(value: str) -> str:
    """A pattern both `re` (checks) and `regex` (the console's time-bounded matcher) compile."""
    try:
        re.compile(value)
        regex.compile(value)
    except (re.error, regex.error) as exc:
        raise problem(
            f"invalid regular expression {value!r} ({exc})", "a Python regular expression"
        ) from None
    return value


def _base_dir(info: ValidationInfo) -> Path:
    context = info.context or {}
    return Path(context.get("base_dir", "."))


def _resolve(value: Path, info: ValidationInfo) -> Path:
    """Relative paths mean: relative to the YAML file that names them; `~` is the home directory."""
    try:
        expanded = value.expanduser()
    except RuntimeError:  # ~nosuchuser/...
        raise problem(
            f"cannot expand {value.parts[0]!r} in {str(value)!r} (no such user)",
            "a path starting with ~/, ~USER/ of an existing user, or no ~",
        ) from None
    if not expanded.is_absolute():
        expanded = _base_dir(info) / expanded
    try:
        return expanded.resolve()
    except (RuntimeError, OSError) as exc:  # a symlink loop (RuntimeError before Python 3.13)
        raise problem(f"cannot resolve {str(value)!r} ({exc})", "a path without a symlink loop") from None


def _existing_file(value: Path, info: ValidationInfo) -> Path:
    resolved = _resolve(value, info)
    try:
        resolved.stat()
    except OSError as exc:
        if not isinstance(exc, FileNotFoundError):
            raise problem(f"cannot read {str(value)!r} ({exc.strerror})", "a readable file") from None
    if not resolved.exists():
        raise problem(
            f"file {str(value)!r} does not exist (looked for {resolved})",
            "an existing file; relative paths start at the YAML file's folder",
        )
    if resolved.is_dir():
        raise problem(f"{str(value)!r} is a directory", "a file")
    if not resolved.is_file():  # a FIFO or a device would hang or never end when read
        raise problem(f"{str(value)!r} is not a regular file", "a regular file")
    return resolved


MAX_SECONDS = 86400.0  # a day: the longest any wait may be configured to take


def _finite_seconds(value: float) -> float:
    if value > MAX_SECONDS:
        raise problem(f"{value:g} seconds is more than a day", f"a number of seconds up to {MAX_SECONDS:g}")
    return value


# Ports and counts are whole numbers as written: `true` is not port 1 and 514.5 is not a port.
Port = Annotated[int, Field(strict=True, ge=1, le=65535, description="a port number from 1 to 65535")]
Count = Annotated[int, Field(strict=True)]
# Durations are finite and at most a day, so no wait can be configured to last forever.
Seconds = Annotated[float, Field(strict=True, allow_inf_nan=False), AfterValidator(_finite_seconds)]
Regex = Annotated[str, AfterValidator(_check_regex)]
ExistingFile = Annotated[Path, AfterValidator(_existing_file)]
ResolvedPath = Annotated[Path, AfterValidator(_resolve)]
NonEmptyStr = Annotated[str, Field(min_length=1, description="a non-empty string")]

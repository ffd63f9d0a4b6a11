"""Building blocks shared by the profile and lab models.

Every model forbids unknown keys, and every check a validator makes reports its problem and the
expected value separately, so the loader can turn it into one `ConfigError` line.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any

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
    try:
        re.compile(value)
    except re.error as exc:
        raise problem(
            f"invalid regular expression {value!r} ({exc})", "a Python regular expression"
        ) from None
    return value


def _base_dir(info: ValidationInfo) -> Path:
    context = info.context or {}
    return Path(context.get("base_dir", "."))


def _resolve(value: Path, info: ValidationInfo) -> Path:
    """Relative paths mean: relative to the YAML file that names them; `~` is the home directory."""
    value = value.expanduser()
    if not value.is_absolute():
        value = _base_dir(info) / value
    return value.resolve()


def _existing_file(value: Path, info: ValidationInfo) -> Path:
    resolved = _resolve(value, info)
    if not resolved.exists():
        raise problem(
            f"file {str(value)!r} does not exist (looked for {resolved})",
            "an existing file; relative paths start at the YAML file's folder",
        )
    if resolved.is_dir():
        raise problem(f"{str(value)!r} is a directory", "a file")
    return resolved


Port = Annotated[int, Field(ge=1, le=65535, description="a port number from 1 to 65535")]
Regex = Annotated[str, AfterValidator(_check_regex)]
ExistingFile = Annotated[Path, AfterValidator(_existing_file)]
ResolvedPath = Annotated[Path, AfterValidator(_resolve)]
NonEmptyStr = Annotated[str, Field(min_length=1, description="a non-empty string")]

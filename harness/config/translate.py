"""Turning pydantic's multi-line ValidationError into one `ConfigError` line.

The first error is reported (plus "(and N more)"), with the field path as the user wrote it
(`network.services[1].port`), the YAML line it sits on, and the field's description as the
expected value.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from harness.config.base import HILSEC_ERROR, UNKNOWN_KEY_ERROR
from harness.config.yamlfile import Location, YamlDocument
from harness.errors import ConfigError

SECRET_FIELDS = ("password",)


def format_location(location: Location) -> str:
    """('network', 'services', 1, 'port') -> 'network.services[1].port'."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _user_location(raw: tuple[Any, ...], data: Any) -> Location:
    """The error's location as keys and indices of the YAML data (pydantic's union tags dropped)."""
    location: list[str | int] = []
    current = data
    for position, part in enumerate(raw):
        last = position == len(raw) - 1
        if isinstance(current, dict):
            if part in current:
                location.append(part)
                current = current[part]
            elif last:
                location.append(part)  # a missing field
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            location.append(part)
            current = current[part]
        else:
            break  # a scalar that failed: the rest are pydantic's type tags
    return tuple(location)


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        if models:
            return models[0]
        return members[0] if len(members) == 1 else annotation
    return annotation


def field_info(model: type[BaseModel], location: Location) -> FieldInfo | None:
    """The pydantic field a location ends in (or the list/dict field holding it)."""
    current: Any = model
    info: FieldInfo | None = None
    for part in location:
        current = _unwrap(current)
        origin = typing.get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            if info is None:
                return None
            current = info.annotation
        elif origin in (list, tuple, set, frozenset):
            current = typing.get_args(current)[0]
        elif origin is dict:
            current = typing.get_args(current)[1]
        else:
            return info
    return info


def _yaml_type(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _shown(value: Any, location: Location) -> str:
    if any(part in SECRET_FIELDS for part in location):
        return ""
    if isinstance(value, dict | list):
        return ""
    text = repr(value)
    return " " + (text if len(text) <= 60 else text[:57] + "...")


def _describe(error: dict[str, Any], location: Location, info: FieldInfo | None) -> tuple[str, str, Location]:
    """(problem, expected, location) for one pydantic error."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    described = info.description if info is not None and info.description else ""
    if kind == HILSEC_ERROR:
        return ctx["problem"], ctx["expected"], location
    if kind == UNKNOWN_KEY_ERROR:
        key = ctx["key"]
        hint = f" (did you mean '{ctx['suggestion']}'?)" if ctx.get("suggestion") else ""
        return f"unknown key '{key}'{hint}", f"one of {ctx['valid']}", (*location, key)
    if kind == "extra_forbidden":
        return "unknown key", described or "only the documented keys", location
    if kind == "missing":
        return "missing required field", described or "a value", location
    if kind in ("literal_error", "enum"):
        return (
            f"invalid value{_shown(value, location)}",
            ctx.get("expected", described or "a listed value"),
            location,
        )
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = {
            "greater_than": "> ",
            "greater_than_equal": ">= ",
            "less_than": "< ",
            "less_than_equal": "<= ",
        }[kind]
        limit = next(iter(ctx.values()), "")
        return (
            f"value{_shown(value, location)} is out of range",
            described or f"a number {bound}{limit}",
            location,
        )
    if kind == "finite_number":
        return (
            f"value{_shown(value, location)} is not a finite number",
            described or "a finite number",
            location,
        )
    if kind.startswith("date") or kind.startswith("datetime"):
        detail = error["msg"].split(",", 1)[1].strip() if "," in error["msg"] else "not a date"
        return f"invalid date{_shown(value, location)} ({detail})", "a date as YYYY-MM-DD", location
    if kind in ("string_too_short", "too_short"):
        return "empty value", described or "a non-empty value", location
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"wrong type: got {_yaml_type(value)}", described or "a mapping", location
    if kind in ("list_type", "tuple_type", "set_type"):
        return f"wrong type: got {_yaml_type(value)}", described or "a list", location
    if kind.endswith("_type") or kind.endswith("_parsing") or kind.endswith("_from_float"):
        wanted = error["msg"].removeprefix("Input should be ").split(",")[0]
        expected = described or wanted
        return f"wrong type: got {_yaml_type(value)}{_shown(value, location)}", expected, location
    message = " ".join(str(error["msg"]).split())
    return message[0].lower() + message[1:], described or "a valid value", location


def translate(exc: ValidationError, document: YamlDocument, model: type[BaseModel]) -> ConfigError:
    """The first validation error as one line; how many more there were."""
    errors = exc.errors(include_url=False)
    located = [_user_location(tuple(e["loc"]), document.data) for e in errors]
    first = errors[0]
    location = located[0]
    problem, expected, location = _describe(first, location, field_info(model, location))
    others = len({loc for loc in located if loc != located[0]})
    line = document.line_of(location)
    if line is not None:
        problem += f" (line {line})"
    if others:
        expected += f" (and {others} more)"
    return ConfigError(document.path, format_location(location) or "(top level)", problem, expected)

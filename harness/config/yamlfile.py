"""Reading a YAML config file: plain data plus the line each key sits on.

Timestamps are not resolved by YAML (PyYAML would crash on 2026-13-01 instead of reporting it);
dates stay strings and the models parse them, so a bad date is reported like any other field.
Booleans are only `true` and `false` (YAML 1.2): in YAML 1.1 `on:` and `off:` are booleans,
which would turn a lab's `power: {on: ..., off: ...}` into keys True and False. A boolean field
still takes yes/no/on/off, as the models parse those strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError

Location = tuple[str | int, ...]


class _ConfigLoader(yaml.SafeLoader):
    """SafeLoader without the implicit timestamp type, with YAML 1.2's two booleans."""


_DROPPED_TAGS = ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")
_ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclass
class YamlDocument:
    """The parsed top-level mapping and the 1-based line of every key and item in it."""

    path: Path
    data: dict[str, Any]
    lines: dict[Location, int] = field(default_factory=dict)

    def line_of(self, location: Location) -> int | None:
        """The line of `location`, or of its nearest enclosing key."""
        while location:
            if location in self.lines:
                return self.lines[location]
            location = location[:-1]
        return None


def _record_lines(node: yaml.Node, location: Location, lines: dict[Location, int], path: Path) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            where = ".".join(str(p) for p in (*location, key))
            if key in seen:
                raise ConfigError(
                    path, where, f"duplicate key at line {key_node.start_mark.line + 1}", "each key once"
                )
            seen.add(key)
            lines[(*location, key)] = key_node.start_mark.line + 1
            _record_lines(value_node, (*location, key), lines, path)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*location, index)] = item.start_mark.line + 1
            _record_lines(item, (*location, index), lines, path)


def read_yaml(path: str | Path) -> YamlDocument:
    """Parse `path` into a mapping; every problem is a one-line ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found", "an existing YAML file") from None
    except IsADirectoryError:
        raise ConfigError(path, "", "is a directory", "a YAML file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, "", f"not UTF-8 text (byte {exc.start})", "a UTF-8 YAML file") from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read file ({exc.strerror})", "a readable YAML file") from None
    try:
        node = yaml.compose(text, Loader=_ConfigLoader)
        data = yaml.load(text, Loader=_ConfigLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(path, "", _describe_yaml_error(exc), "valid YAML") from None
    if data is None:
        raise ConfigError(path, "", "file is empty", "a YAML mapping of keys to values")
    if not isinstance(data, dict):
        raise ConfigError(path, "", f"top level is a {_yaml_type(data)}", "a YAML mapping of keys to values")
    lines: dict[Location, int] = {}
    if node is not None:
        _record_lines(node, (), lines, path)
    return YamlDocument(path=path, data=data, lines=lines)


def _describe_yaml_error(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    what = " ".join(str(getattr(exc, "problem", None) or exc).split())
    context = getattr(exc, "context", None)
    if context:
        what = f"{' '.join(context.split())}: {what}"
    if mark is not None:
        return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {what}"
    return f"invalid YAML: {what}"


def _yaml_type(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__

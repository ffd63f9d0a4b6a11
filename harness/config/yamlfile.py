"""Reading a YAML config file: plain data plus the line each key sits on.

Timestamps are not resolved by YAML (PyYAML would crash on 2026-13-01 instead of reporting it);
dates stay strings and the models parse them, so a bad date is reported like any other field.
Booleans are only `true` and `false` (YAML 1.2): in YAML 1.1 `on:` and `off:` are booleans,
which would turn a lab's `power: {on: ..., off: ...}` into keys True and False. A boolean field
still takes yes/no/on/off, as the models parse those strings.

A config file is input like any other: only a regular file of at most MAX_FILE_BYTES is read (a
FIFO or /dev/zero would hang or fill memory), nesting is at most MAX_DEPTH deep, aliases may expand
to at most MAX_NODES values (a "billion laughs" file is refused, not expanded), and an integer has
at most MAX_INT_DIGITS digits. A value that its tag cannot make (`!!int abc`) is a YAML error with
its line, like a syntax error.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError

Location = tuple[str | int, ...]

MAX_FILE_BYTES = 1024 * 1024  # a profile is a few kB; a megabyte is a mistake or an attack
MAX_DEPTH = 64  # mappings and lists inside each other
MAX_NODES = 100_000  # values after expanding aliases
MAX_INT_DIGITS = 40


class _ConfigLoader(yaml.SafeLoader):
    """SafeLoader without the implicit timestamp type, with YAML 1.2's two booleans, and bounded."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, KeyError, OverflowError, IndexError, AttributeError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {_snippet(node)} as {_tag_name(node.tag)} ({exc})", node.start_mark
            ) from None

    def construct_yaml_int(self, node: yaml.Node) -> int:
        digits = sum(char.isalnum() for char in str(node.value))
        if digits > MAX_INT_DIGITS:
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {digits} digits (at most {MAX_INT_DIGITS})", node.start_mark
            )
        return super().construct_yaml_int(node)  # type: ignore[arg-type]


_ConfigLoader.add_constructor("tag:yaml.org,2002:int", _ConfigLoader.construct_yaml_int)


_DROPPED_TAGS = ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")
_ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:float"]
    for first, resolvers in _ConfigLoader.yaml_implicit_resolvers.items()
}
# YAML 1.2's floats: 1e300 and 2.5E-3 are numbers (YAML 1.1 wants a dot and a signed exponent).
# A float needs a dot or an exponent: digits alone with a leading zero (an IMSI such as
# 001010123456789, which PyYAML itself writes unquoted) stay a string, as YAML 1.1 reads them.
_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9][0-9_]*\.[0-9_]*|[0-9][0-9_]*(?=[eE]))(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
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


def _tag_name(tag: str) -> str:
    return tag.rsplit(":", 1)[-1]


def _snippet(node: yaml.Node) -> str:
    text = repr(node.value) if isinstance(node, yaml.ScalarNode) else "a collection"
    return text if len(text) <= 40 else text[:37] + "..."


def _read_text(path: Path) -> str:
    """The file's text: a regular file only, at most MAX_FILE_BYTES, UTF-8."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; the type is checked before reading.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found", "an existing YAML file") from None
    except IsADirectoryError:
        raise ConfigError(path, "", "is a directory", "a YAML file") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(path, "", f"cannot read file ({reason})", "a readable YAML file") from None
    with os.fdopen(fd, "rb") as file:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ConfigError(path, "", "is a directory", "a YAML file")
        if not stat.S_ISREG(mode):
            raise ConfigError(path, "", f"is not a regular file (a {_file_kind(mode)})", "a YAML file")
        try:
            data = file.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise ConfigError(
                path, "", f"cannot read file ({exc.strerror})", "a readable YAML file"
            ) from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(
            path, "", f"file is larger than {MAX_FILE_BYTES // 1024} KiB", "a YAML config file of a few kB"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(path, "", f"not UTF-8 text (byte {exc.start})", "a UTF-8 YAML file") from None


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def _expanded_shape(node: yaml.Node) -> tuple[int, int]:
    """(values, depth) of `node` once aliases are expanded; each shared node is visited once."""
    shapes: dict[int, tuple[int, int]] = {}
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        current, children_done = stack.pop()
        if id(current) in shapes:
            continue
        children: list[yaml.Node] = []
        if isinstance(current, yaml.MappingNode):
            children = [part for pair in current.value for part in pair]
        elif isinstance(current, yaml.SequenceNode):
            children = list(current.value)
        if children_done or not children:
            known = [shapes.get(id(child), (0, 0)) for child in children]
            size = min(1 + sum(s for s, _ in known), MAX_NODES + 1)
            depth = 1 + max((d for _, d in known), default=0)
            shapes[id(current)] = (size, depth)
            continue
        stack.append((current, True))
        stack.extend((child, False) for child in children if id(child) not in shapes)
    return shapes[id(node)]


def _parse(text: str) -> tuple[yaml.Node | None, Any]:
    loader = _ConfigLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        size, depth = _expanded_shape(node)
        if size > MAX_NODES:
            raise yaml.composer.ComposerError(
                None, None, f"aliases expand to more than {MAX_NODES} values", node.start_mark
            )
        if depth > MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"aliases nest values more than {MAX_DEPTH} levels deep", node.start_mark
            )
        return node, loader.construct_document(node)
    finally:
        loader.dispose()


def read_yaml(path: str | Path) -> YamlDocument:
    """Parse `path` into a mapping; every problem is a one-line ConfigError."""
    path = Path(path)
    text = _read_text(path)
    try:
        node, data = _parse(text)
    except yaml.YAMLError as exc:
        raise ConfigError(path, "", _describe_yaml_error(exc), "valid YAML") from None
    except RecursionError:
        raise ConfigError(path, "", "nested too deeply", "a YAML config file") from None
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

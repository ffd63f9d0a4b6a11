"""Loading profiles and lab configs from YAML; every mistake is one `ConfigError` line.

`load_any` tells the two kinds apart by a top-level `kind:` (`device-profile` or `lab-config`)
when present, else by content: a file with `console` or `login` is a device profile, one with
`servers`, `capture`, `serial_ports`, `timeouts`, `image_cache`, `power`, `network` or `qemu` at the top
level is a lab config.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from harness.config.lab import LabConfig
from harness.config.profile import DeviceProfile
from harness.config.translate import translate
from harness.config.yamlfile import YamlDocument, read_yaml
from harness.errors import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)

KINDS: dict[str, type[BaseModel]] = {"device-profile": DeviceProfile, "lab-config": LabConfig}
PROFILE_KEYS = frozenset({"console", "login", "firmware_version", "features", "secure_communication"})
LAB_KEYS = frozenset(
    {"servers", "capture", "serial_ports", "timeouts", "image_cache", "power", "network", "qemu"}
)


def _validate(document: YamlDocument, model: type[ModelT]) -> ModelT:
    try:
        return model.model_validate(document.data, context={"base_dir": document.path.resolve().parent})
    except ValidationError as exc:
        raise translate(exc, document, model) from None


def load_profile(path: str | Path) -> DeviceProfile:
    """A validated device profile; ConfigError names the file and field of any mistake."""
    return _validate(read_yaml(path), DeviceProfile)


def load_lab_config(path: str | Path) -> LabConfig:
    """A validated lab config; ConfigError names the file and field of any mistake."""
    return _validate(read_yaml(path), LabConfig)


def _kind_of(document: YamlDocument) -> type[BaseModel]:
    kind = document.data.get("kind")
    if kind is not None:
        if not isinstance(kind, str) or kind not in KINDS:
            shown = repr(kind) if isinstance(kind, str | int | float) else f"of type {type(kind).__name__}"
            raise ConfigError(document.path, "kind", f"invalid value {shown[:60]}", " or ".join(KINDS))
        return KINDS[kind]
    keys = set(document.data)
    if keys & PROFILE_KEYS:
        return DeviceProfile
    if keys & LAB_KEYS:
        return LabConfig
    raise ConfigError(
        document.path,
        "(top level)",
        "cannot tell whether this is a device profile or a lab config",
        "a top-level 'kind: device-profile' or 'kind: lab-config'",
    )


def load_any(path: str | Path) -> DeviceProfile | LabConfig:
    """A device profile or a lab config, whichever the file is (see the module docstring)."""
    document = read_yaml(path)
    return _validate(document, _kind_of(document))  # type: ignore[return-value]


def validate_files(paths: Iterable[str | Path]) -> list[str]:
    """One error line per bad file (empty when every file is good), for `hilsec validate`.

    A folder stands for every *.yaml / *.yml file under it.
    """
    problems: list[str] = []
    for path in _expand(paths):
        try:
            load_any(path)
        except ConfigError as exc:
            problems.append(str(exc))
    return problems


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
            files.extend(found)
            if not found:
                files.append(path)  # reported as "is a directory"
        else:
            files.append(path)
    return files

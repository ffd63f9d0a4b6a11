"""The driver registry: each driver module registers what it provides; the factory asks here.

A driver module in harness/drivers/ decorates a builder with `@provides(Capability)`. The
builder gets the `BuildContext` (profile, lab config, work folder) and returns a driver when
the configuration selects it, else None. Adding a driver is adding a module: nothing in the
core names driver kinds.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
Builder = Callable[["BuildContext"], Any]


@dataclass
class BuildContext:
    """What a driver builder may read, and objects the drivers of one device share."""

    profile: Any
    lab: Any
    workdir: Path
    progress: Callable[[str], None] = lambda line: None
    shared: dict[str, Any] = field(default_factory=dict)
    # Kernel command line words the lab services give an emulated reference image (set by Device).
    boot_words: Callable[[], list[str]] = lambda: []

    def share(self, key: str, make: Callable[[], T]) -> T:
        """One object per device for `key` (a QEMU machine its power, console and capture share)."""
        if key not in self.shared:
            self.shared[key] = make()
        return self.shared[key]


@dataclass(frozen=True)
class DriverEntry:
    capability: type
    name: str
    build: Builder
    order: int


_ENTRIES: list[DriverEntry] = []
_loaded = False


def provides(capability: type, *, order: int = 100) -> Callable[[Builder], Builder]:
    """Register a builder for `capability`; lower `order` is asked first."""

    def register(build: Builder) -> Builder:
        _ENTRIES.append(DriverEntry(capability, f"{build.__module__}.{build.__qualname__}", build, order))
        return build

    return register


def drivers_for(capability: type) -> list[DriverEntry]:
    load_drivers()
    return sorted((e for e in _ENTRIES if e.capability is capability), key=lambda e: (e.order, e.name))


def load_drivers() -> None:
    """Import every module of harness.drivers once, so each registers its builders."""
    global _loaded
    if _loaded:
        return
    import harness.drivers as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    _loaded = True

"""The requirement catalog: FS.25 and FS.38 requirements with their public cross references.

The content lives in `catalog.yaml` next to this module; this module only loads and checks it,
and answers the questions markers and reports ask (is this ID known, which scheme IDs map where).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError

CATALOG_FILE = Path(__file__).resolve().parent / "catalog.yaml"
TS103701_FILE = Path(__file__).resolve().parent / "ts103701.yaml"
TS103701 = "ts103701"
TS103701_PREFIX = "TS103701-"
SCHEMES = ("en303645", "en18031", "clp13", TS103701)
ASSESSMENTS = ("functional", "conceptual")


@dataclass(frozen=True)
class CrossRef:
    """A public provision a requirement maps to; `id` is the marker form (EN303645-5.1-1)."""

    scheme: str  # en303645 | en18031 | clp13 | ts103701
    id: str
    version: str
    title: str
    note: str = ""
    kind: str = ""  # ts103701 units: functional | conceptual
    network: bool = False  # ts103701 units: in the network attack threat model (the 56)

    @property
    def provision(self) -> str:
        """The number inside its standard, e.g. '5.1-1', 'AUM-5', '6.9', '5.1-1-2a'."""
        return self.id.split("-", 1)[1] if self.scheme != "clp13" else self.id.split("_", 1)[1]


@dataclass(frozen=True)
class Requirement:
    """One requirement the harness gives a verdict for."""

    id: str
    title: str
    source: str
    statement: str
    provenance: str
    assessment: str  # functional (a device test settles it) | conceptual (declared evidence)
    crossrefs: tuple[CrossRef, ...]

    @property
    def crossref_ids(self) -> list[str]:
        """The marker IDs of this requirement's cross references."""
        return [c.id for c in self.crossrefs]


class Catalog:
    """Every requirement and cross reference, in catalog order."""

    def __init__(
        self,
        requirements: Iterable[Requirement],
        crossrefs: Iterable[CrossRef],
        scheme_notes: dict[str, str] | None = None,
    ) -> None:
        self._requirements = {r.id: r for r in requirements}
        self._crossrefs = {c.id: c for c in crossrefs}
        self.scheme_notes = dict(scheme_notes or {})

    def __getitem__(self, requirement_id: str) -> Requirement:
        return self._requirements[requirement_id]

    def __iter__(self) -> Iterator[Requirement]:
        return iter(self._requirements.values())

    def __len__(self) -> int:
        return len(self._requirements)

    def __contains__(self, requirement_id: object) -> bool:
        return requirement_id in self._requirements

    def ids(self) -> list[str]:
        """Catalog IDs in catalog order."""
        return list(self._requirements)

    def crossref(self, crossref_id: str) -> CrossRef:
        """A cross reference by its marker ID."""
        return self._crossrefs[crossref_id]

    def crossrefs(self, scheme: str | None = None) -> list[CrossRef]:
        """Every cross reference (of one scheme), in catalog order."""
        return [c for c in self._crossrefs.values() if scheme is None or c.scheme == scheme]

    def is_known(self, marker_id: str) -> bool:
        """True for a catalog ID or a cross-reference ID."""
        return marker_id in self._requirements or marker_id in self._crossrefs

    def suggest(self, marker_id: str) -> str | None:
        """The known ID closest to a mistyped one."""
        known = [*self._requirements, *self._crossrefs]
        folded = {k.upper(): k for k in known}
        if marker_id.upper() in folded:
            return folded[marker_id.upper()]
        matches = difflib.get_close_matches(marker_id.upper(), list(folded), n=1, cutoff=0.5)
        matches = [folded[m] for m in matches]
        return matches[0] if matches else None

    def resolve(self, marker_ids: Iterable[str]) -> tuple[list[str], list[str]]:
        """Split a marker's IDs into (catalog IDs, cross-reference IDs).

        ValueError names an unknown ID (with the closest known one), or a marker that cites
        cross references only: a test must say which catalog requirement its verdict counts for.
        """
        requirement_ids: list[str] = []
        crossref_ids: list[str] = []
        marker_ids = list(marker_ids)
        for marker_id in marker_ids:
            if not isinstance(marker_id, str):
                raise ValueError(f"requirement marker argument {marker_id!r} is not a string")
            if marker_id in self._requirements:
                target = requirement_ids
            elif marker_id in self._crossrefs:
                target = crossref_ids
            else:
                hint = self.suggest(marker_id)
                did_you_mean = f"; did you mean {hint!r}?" if hint else "; see `hilsec requirements`"
                raise ValueError(f"unknown requirement ID {marker_id!r}{did_you_mean}")
            if marker_id not in target:
                target.append(marker_id)
        if not requirement_ids:
            cited = ", ".join(marker_ids) if marker_ids else "nothing"
            raise ValueError(
                f"requirement marker cites {cited} but no catalog ID; add one of the FS38-* or SSU-* IDs"
            )
        return requirement_ids, crossref_ids


def _scheme_of(crossref_id: str, prefixes: dict[str, str]) -> str | None:
    for scheme, prefix in prefixes.items():
        if crossref_id.startswith(prefix):
            return scheme
    return None


def _require(data: dict[str, Any], key: str, path: Path, where: str) -> Any:
    if key not in data:
        raise ConfigError(path, f"{where}.{key}" if where else key, "missing required field", "a value")
    return data[key]


def parse_catalog(data: Any, path: Path) -> Catalog:
    """Build and check a Catalog from the YAML data (every crossref cited must be defined)."""
    if not isinstance(data, dict):
        raise ConfigError(path, "", "top level is not a mapping", "a catalog mapping")
    schemes = _require(data, "schemes", path, "")
    prefixes = {name: spec["prefix"] for name, spec in schemes.items()}
    unknown_schemes = set(prefixes) - set(SCHEMES)
    if unknown_schemes:
        raise ConfigError(
            path, "schemes", f"unknown scheme {sorted(unknown_schemes)[0]!r}", ", ".join(SCHEMES)
        )
    crossrefs: dict[str, CrossRef] = {}
    for crossref_id, spec in _require(data, "crossrefs", path, "").items():
        scheme = _scheme_of(crossref_id, prefixes)
        if scheme is None:
            raise ConfigError(
                path,
                f"crossrefs.{crossref_id}",
                "no scheme prefix",
                "an ID starting with " + " or ".join(prefixes.values()),
            )
        crossrefs[crossref_id] = CrossRef(
            scheme=scheme,
            id=crossref_id,
            version=schemes[scheme]["version"],
            title=spec["title"],
            note=spec.get("note", ""),
        )
    sources = _require(data, "sources", path, "")
    provenances = _require(data, "provenance", path, "")
    requirements: list[Requirement] = []
    for index, spec in enumerate(_require(data, "requirements", path, "")):
        where = f"requirements[{index}]"
        source_key = _require(spec, "source", path, where)
        if source_key not in sources:
            raise ConfigError(path, f"{where}.source", f"unknown source {source_key!r}", ", ".join(sources))
        assessment = _require(spec, "assessment", path, where)
        if assessment not in ASSESSMENTS:
            raise ConfigError(
                path, f"{where}.assessment", f"invalid value {assessment!r}", " or ".join(ASSESSMENTS)
            )
        refs = []
        for crossref_id in _require(spec, "crossrefs", path, where):
            if crossref_id not in crossrefs:
                raise ConfigError(
                    path, f"{where}.crossrefs", f"{crossref_id!r} is not defined", "an ID under crossrefs"
                )
            refs.append(crossrefs[crossref_id])
        requirement = Requirement(
            id=_require(spec, "id", path, where),
            title=_require(spec, "title", path, where),
            source=sources[source_key],
            statement=" ".join(_require(spec, "statement", path, where).split()),
            provenance=" ".join(provenances[source_key].split()),
            assessment=assessment,
            crossrefs=tuple(refs),
        )
        if any(r.id == requirement.id for r in requirements):
            raise ConfigError(path, f"{where}.id", f"duplicate ID {requirement.id!r}", "each ID once")
        requirements.append(requirement)
    notes = {name: " ".join(spec.get("note", "").split()) for name, spec in schemes.items()}
    return Catalog(requirements, crossrefs.values(), notes)


@lru_cache(maxsize=4)
def _load(path: Path) -> Catalog:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(
            path, "", f"cannot read catalog ({' '.join(str(exc).split())})", "a valid catalog"
        ) from None
    return parse_catalog(data, path)


def parse_test_units(data: Any, path: Path) -> list[CrossRef]:
    """TS 103 701's test units as cross references of the ts103701 scheme (marker TS103701-<unit>)."""
    if not isinstance(data, dict) or not isinstance(data.get("units"), dict):
        raise ConfigError(path, "units", "missing or not a mapping", "a mapping of unit IDs")
    version = str(data.get("version", "ETSI TS 103 701"))
    units = []
    for unit_id, spec in data["units"].items():
        kind = spec.get("kind")
        if kind not in ASSESSMENTS:
            raise ConfigError(
                path, f"units.{unit_id}.kind", f"invalid value {kind!r}", " or ".join(ASSESSMENTS)
            )
        units.append(
            CrossRef(
                scheme=TS103701,
                id=f"{TS103701_PREFIX}{unit_id}",
                version=version,
                title=str(spec["text"]),
                note=f"provision {spec['provision']}",
                kind=kind,
                network=bool(spec.get("network", False)),
            )
        )
    return units


@lru_cache(maxsize=4)
def _load_units(path: Path) -> tuple[CrossRef, ...]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(
            path, "", f"cannot read test units ({' '.join(str(exc).split())})", "valid YAML"
        ) from None
    return tuple(parse_test_units(data, path))


TS103701_NOTE = (
    "unit IDs of ETSI TS 103 701 V1.1.1; each text is the harness's own one-line paraphrase; the 56 units "
    "marked network are those Kaksonen et al. (ICISSP 2024) count for the network attack threat model"
)


def load_catalog(path: str | Path | None = None) -> Catalog:
    """The catalog shipped with the harness (or one at `path`), with TS 103 701's test units as
    the ts103701 scheme; loaded once and cached."""
    return _with_units(Path(path).resolve() if path is not None else CATALOG_FILE, TS103701_FILE)


@lru_cache(maxsize=4)
def _with_units(path: Path, units_path: Path) -> Catalog:
    catalog = _load(path)
    known = {c.id for c in catalog.crossrefs()}
    units = [u for u in _load_units(units_path) if u.id not in known]
    notes = {**catalog.scheme_notes, TS103701: TS103701_NOTE}
    return Catalog(catalog, [*catalog.crossrefs(), *units], notes)

"""The update manifest a manufacturer publishes with an update: version, CVEs fixed, other changes.

Format (JSON, or YAML; the profile points to it with `update_policy.update_manifest`):
    {"kind": "update-manifest", "package": "...", "version": "1.0.3", "date": "2026-04-07",
     "security_only": true, "cves": ["CVE-2023-0465"], "feature_changes": [],
     "hardware_compatibility": ["board:rev"]}
Every mistake is one ConfigError line naming the file and field, like a profile's.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator

from harness.config.base import NonEmptyStr, StrictModel, problem
from harness.config.profile import CVE_PATTERN, validate_cve_ids
from harness.config.translate import translate
from harness.config.yamlfile import read_yaml
from harness.updates.versions import parse_version


class FixedVulnerability(StrictModel):
    """One vulnerability the update fixes, when the manifest gives more than the CVE ID."""

    cve: NonEmptyStr = Field(description="a CVE ID like CVE-2024-12345")
    component: str = Field("", description="the component the fix is in")
    summary: str = Field("", description="free text")


class UpdateManifest(StrictModel):
    """What one update package contains, as its maker declares it."""

    kind: Literal["update-manifest"] = Field(description="update-manifest")
    package: NonEmptyStr = Field(description="the package or firmware name")
    version: NonEmptyStr = Field(description='the update\'s dotted version as a string, e.g. "1.0.3"')
    date: dt.date | None = Field(None, description="the release date as YYYY-MM-DD")
    security_only: bool = Field(description="true or false: the update only fixes security problems")
    cves: list[str] = Field(default_factory=list, description="a list of CVE IDs like CVE-2024-12345")
    fixes: list[FixedVulnerability] = Field(
        default_factory=list, description="a list of {cve, component, summary}"
    )
    feature_changes: list[str] = Field(
        default_factory=list, description="a list of the non-security changes the update carries"
    )
    hardware_compatibility: list[str] = Field(
        default_factory=list, description="a list of board:revision strings"
    )

    @field_validator("version")
    @classmethod
    def _dotted(cls, version: str) -> str:
        try:
            parse_version(version)
        except ValueError:
            raise problem(f"{version!r} is not a dotted numeric version", 'a version like "1.0.3"') from None
        return version

    @field_validator("cves")
    @classmethod
    def _cve_ids(cls, cves: list[str]) -> list[str]:
        return validate_cve_ids(cves)

    @field_validator("fixes")
    @classmethod
    def _fix_ids(cls, fixes: list[FixedVulnerability]) -> list[FixedVulnerability]:
        for fix in fixes:
            if not CVE_PATTERN.match(fix.cve):
                raise problem(f"{fix.cve!r} is not a CVE ID", "IDs of the form CVE-YYYY-NNNN")
        return fixes

    @property
    def fixed_cves(self) -> list[str]:
        """Every CVE the manifest says it fixes, from `cves` and `fixes`, in order, once each."""
        return list(dict.fromkeys([*self.cves, *(fix.cve for fix in self.fixes)]))


def load_manifest(path: str | Path) -> UpdateManifest:
    """A validated update manifest (JSON or YAML); ConfigError names the file, field and fix."""
    document = read_yaml(path)
    try:
        return UpdateManifest.model_validate(document.data)
    except ValidationError as exc:
        raise translate(exc, document, UpdateManifest) from None

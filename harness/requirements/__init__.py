"""The requirement catalog (FS.25, FS.38) as data, its cross references, and test coverage."""

from harness.requirements.catalog import (
    ASSESSMENTS,
    CATALOG_FILE,
    SCHEMES,
    Catalog,
    CrossRef,
    Requirement,
    load_catalog,
)
from harness.requirements.coverage import RequirementCollector, collect_coverage
from harness.requirements.views import NOT_TESTED, check_scheme, format_catalog, scheme_view

__all__ = [
    "ASSESSMENTS",
    "CATALOG_FILE",
    "NOT_TESTED",
    "SCHEMES",
    "Catalog",
    "CrossRef",
    "Requirement",
    "RequirementCollector",
    "check_scheme",
    "collect_coverage",
    "format_catalog",
    "load_catalog",
    "scheme_view",
]

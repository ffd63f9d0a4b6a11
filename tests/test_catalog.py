"""The requirement catalog: content, marker resolution, scheme views, text output and coverage."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.requirements import (
    NOT_TESTED,
    SCHEMES,
    collect_coverage,
    format_catalog,
    load_catalog,
    scheme_view,
)
from harness.requirements.catalog import parse_catalog
from harness.requirements.coverage import Coverage

FS25_IDS = [
    "SSU-SEC-0001", "SSU-SEC-0010", "SSU-SEC-0020", "SSU-SEC-0021", "SSU-SEC-0030", "SSU-SEC-0040",
    "SSU-COM-0010", "SSU-COM-0020", "SSU-COM-0030", "SSU-COM-0040", "SSU-COM-0050",
    "SSU-TES-0010", "SSU-TES-0020", "SSU-TES-0030",
]  # fmt: skip
FS38_IDS = [f"FS38-0{n}" for n in range(1, 8)] + ["FS38-GSM-01", "FS38-GSM-02", "FS38-SIP-01", "FS38-SIP-02"]
DEVICE_VISIBLE_FS25 = {"SSU-SEC-0001", "SSU-COM-0040", "SSU-COM-0050", "SSU-TES-0020", "SSU-TES-0030"}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_catalog_holds_exactly_the_fs25_and_fs38_ids(catalog) -> None:
    assert catalog.ids() == FS25_IDS + FS38_IDS


def test_every_entry_is_complete(catalog) -> None:
    for requirement in catalog:
        assert requirement.title and requirement.statement and requirement.provenance, requirement.id
        assert requirement.assessment in ("functional", "conceptual")
        assert requirement.crossrefs, f"{requirement.id} has no cross reference"


def test_fs25_entries(catalog) -> None:
    for requirement_id in FS25_IDS:
        requirement = catalog[requirement_id]
        assert requirement.source == "GSMA FS.25 v2.0 (27 Nov 2020)"
        expected = "functional" if requirement_id in DEVICE_VISIBLE_FS25 else "conceptual"
        assert requirement.assessment == expected, requirement_id
    assert any(c.id.startswith("EN303645-5.3-") for c in catalog["SSU-SEC-0001"].crossrefs)


def test_fs38_provenance_says_numbering_is_harness_assigned(catalog) -> None:
    for requirement_id in FS38_IDS:
        provenance = catalog[requirement_id].provenance
        assert "SIP Network Security" in provenance
        assert "members-only" in provenance
        assert "Harness-assigned" in provenance


def test_crossrefs_record_scheme_and_version(catalog) -> None:
    versions = {c.scheme: c.version for c in catalog.crossrefs()}
    assert set(versions) == set(SCHEMES)
    assert "V2.1.1" in versions["en303645"]
    assert versions["en18031"] == "EN 18031-1:2024"
    assert "V3.1.3" in catalog.scheme_notes["en303645"]
    assert "5.6-4A" in catalog.crossref("EN303645-5.6-4").note
    assert catalog.crossref("EN18031-AUM-5").provision == "AUM-5"
    assert catalog.crossref("CLP13_6.9").provision == "6.9"


def test_logging_cites_clp13_only(catalog) -> None:
    assert [c.id for c in catalog["FS38-07"].crossrefs] == ["CLP13_6.13"]


def test_resolve_splits_catalog_and_crossref_ids(catalog) -> None:
    assert catalog.resolve(["FS38-01", "EN303645-5.1-1", "EN18031-AUM-5", "CLP13_6.9", "FS38-01"]) == (
        ["FS38-01"],
        ["EN303645-5.1-1", "EN18031-AUM-5", "CLP13_6.9"],
    )
    assert catalog.is_known("EN18031-AUM-6") and not catalog.is_known("FS38-99")


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (["FS38-1"], "unknown requirement ID 'FS38-1'; did you mean 'FS38-01'?"),
        (["FS38-01", "EN303645-5.1-9"], "unknown requirement ID 'EN303645-5.1-9'; did you mean"),
        (["ssu-sec-0010"], "did you mean 'SSU-SEC-0010'?"),
        (["EN303645-5.1-1"], "no catalog ID"),
        ([], "no catalog ID"),
    ],
)
def test_resolve_rejects_bad_markers(catalog, ids: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("?", r"\?")):
        catalog.resolve(ids)


def test_scheme_view_maps_scheme_ids_to_catalog_ids(catalog) -> None:
    view = scheme_view(catalog, "en303645")
    assert view["EN303645-5.1-1"] == ["FS38-01"]
    assert "SSU-SEC-0030" in view["EN303645-5.3-13"]
    assert all(key.startswith("EN303645-") for key in view)
    assert scheme_view(catalog, "clp13")["CLP13_6.13"] == ["FS38-07"]
    assert "FS38-01" in scheme_view(catalog, "en18031")["EN18031-AUM-5"]
    with pytest.raises(ValueError, match="unknown scheme"):
        scheme_view(catalog, "nist")


def test_format_catalog_lists_tests_or_not_tested(catalog) -> None:
    coverage = {
        "FS38-01": ["testsuites/test_a.py::test_x"],
        "EN303645-5.1-1": ["testsuites/test_b.py::test_y"],
    }
    text = format_catalog(catalog, coverage, None)
    block = text.split("FS38-01  ", 1)[1].split("FS38-02", 1)[0]
    assert "testsuites/test_a.py::test_x" in block and "GSMA FS.38" in block and "functional" in block
    assert f"tests: {NOT_TESTED}" in text.split("SSU-SEC-0010  ", 1)[1].split("SSU-SEC-0020", 1)[0]
    assert "1 of 25 requirements covered" in text

    by_scheme = format_catalog(catalog, coverage, "en303645")
    block = by_scheme.split("EN303645-5.1-1  ", 1)[1].split("EN303645-5.1-2", 1)[0]
    # Strict: only the test whose marker names the provision; the citing requirement's test is not it.
    assert "testsuites/test_b.py::test_y" in block and "testsuites/test_a.py::test_x" not in block
    assert "cited by: FS38-01" in block
    assert "V2.1.1" in by_scheme.splitlines()[0]


def test_a_provision_no_test_names_is_not_tested_naming_who_cites_it(catalog) -> None:
    # FS38-01's own test passes, and FS38-01 cites 5.1-4 and AUM-6: neither is exercised.
    coverage = {"FS38-01": ["testsuites/test_a.py::test_x"]}
    for scheme, provision in (("en303645", "EN303645-5.1-4"), ("en18031", "EN18031-AUM-6")):
        text = format_catalog(catalog, coverage, scheme)
        block = text.split(f"{provision}  ", 1)[1].split("\n", 3)[2]
        assert "NOT_TESTED (cited by FS38-01" in block, block
        assert "provisions exercised by tests" in text.splitlines()[-1]
        assert "0 of" in text.splitlines()[-1]


def test_ts103701_view_prints_the_share_over_the_56_units(catalog) -> None:
    coverage = Coverage(
        {"TS103701-5.6-1-2b": ["t.py::scan"], "TS103701-5.3-13-2a": ["t.py::declared"]},
        conceptual={"t.py::declared"},
    )
    text = format_catalog(catalog, coverage, "ts103701")
    assert (
        "network attack threat model: 2 of 56 TS 103 701 test units automated (4 %): 1 functionally, 1 conceptually"
        in text
    )
    block = text.split("TS103701-5.6-1-2b  ", 1)[1].split("TS103701-", 1)[0]
    assert "automated: functionally" in block and "t.py::scan" in block
    assert "automated: not automated" in text.split("TS103701-5.9-1-2a  ", 1)[1].split("TS103701-", 1)[0]


def test_format_catalog_flags_unknown_marker_ids(catalog) -> None:
    assert "not in the catalog: FS38-99" in format_catalog(catalog, {"FS38-99": ["t.py::a"]})


def test_collect_coverage_reads_requirement_markers(tmp_path: Path) -> None:
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "test_creds.py").write_text(
        textwrap.dedent("""
        import pytest

        @pytest.mark.requirement("FS38-01", "EN303645-5.1-1")
        def test_default_password():
            pass

        @pytest.mark.requirement("FS38-05")
        class TestPorts:
            def test_telnet(self):
                pass

            @pytest.mark.parametrize("port", [23, 2323])
            def test_other(self, port):
                pass

        def test_unmarked():
            pass
    """)
    )
    (suites / "test_updates.py").write_text(
        textwrap.dedent("""
        import pytest
        pytestmark = pytest.mark.requirement("SSU-SEC-0030")

        def test_support_period():
            pass
    """)
    )
    coverage = collect_coverage(suites)
    assert coverage["FS38-01"] == ["suites/test_creds.py::test_default_password"]
    assert coverage["EN303645-5.1-1"] == ["suites/test_creds.py::test_default_password"]
    assert coverage["FS38-05"] == [
        "suites/test_creds.py::TestPorts::test_telnet",
        "suites/test_creds.py::TestPorts::test_other[23]",
        "suites/test_creds.py::TestPorts::test_other[2323]",
    ]
    assert coverage["SSU-SEC-0030"] == ["suites/test_updates.py::test_support_period"]
    assert set(coverage) == {"FS38-01", "EN303645-5.1-1", "FS38-05", "SSU-SEC-0030"}
    # Collecting twice in one process does not clash over module names.
    assert collect_coverage(suites) == coverage


def test_collect_coverage_reports_broken_modules(tmp_path: Path) -> None:
    (tmp_path / "test_broken.py").write_text("import not_a_module_anywhere\n")
    with pytest.raises(ConfigError, match="test collection failed") as info:
        collect_coverage(tmp_path)
    assert "\n" not in str(info.value)
    assert collect_coverage(tmp_path, strict=False) == {}
    with pytest.raises(ConfigError, match="no such directory"):
        collect_coverage(tmp_path / "missing")


def test_catalog_errors_are_config_errors(tmp_path: Path) -> None:
    data = {
        "schemes": {"en303645": {"prefix": "EN303645-", "version": "V2.1.1"}},
        "crossrefs": {"EN303645-5.1-1": {"title": "t"}},
        "sources": {"fs25": "FS.25"},
        "provenance": {"fs25": "p"},
        "requirements": [
            {
                "id": "X",
                "title": "t",
                "source": "fs25",
                "statement": "s",
                "assessment": "functional",
                "crossrefs": ["EN303645-9.9-9"],
            }
        ],
    }
    with pytest.raises(ConfigError, match="'EN303645-9.9-9' is not defined"):
        parse_catalog(data, tmp_path / "c.yaml")
    data["requirements"][0]["crossrefs"] = ["EN303645-5.1-1"]
    assert parse_catalog(data, tmp_path / "c.yaml").ids() == ["X"]

"""The bench twin: the whole of testsuites/ through the bench path gives the emulated verdicts.

The twin (tests/support/bench_twin.py) is the reference image as a board that knows nothing of
hilsec: QEMU started and killed by the lab config's power commands, its serial on a USB-UART
stand-in (the hardened twin on the plain pty path, the vulnerable one exported by a real ser2net
over RFC 2217), its NIC on the lab LAN's bridge in a namespace (capture on that interface), and
configured to send to the lab's fixed ports. Every requirement verdict must equal the emulated
run's of the same image: the bench path changes how the harness reaches a device, never what it
concludes. The hardened twin also carries the console-lockout hardening knob, which must not change
a verdict either (tests/test_console_lockout.py checks what the strategy did about it). The
emulated runs are the session's, shared with test_suites_on_reference_images.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.bench_twin import MAKER_PACKAGES_ON_TWIN, REFERENCE_TWINS, TWINS_IN_THIS_RUN

from harness.results.verdicts import Verdict, rollup

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "build" / "artifacts"
VARIANTS = ("hardened", "vulnerable")
# The signed-update tests that need the manufacturer's signing key (a valid, tampered, truncated or
# rollback package) are decided on the twin from the maker-supplied packages (add_maker_update_packages);
# without them they would be INCONCLUSIVE there, saying so, and be compared without them on both sides.
MISSING_KEY = "needs the manufacturer's signing key"
MAKER_PACKAGE_REQUIREMENT = "FS38-03"
# The emulated reference device's cellular module exists only inside its emulated board (a module
# emulation on the guest's second serial port, its radio on the lab's Osmocom cell); the twin is a
# board with no modem attached and a lab with no cell, as a bench without them is. So its GSM tests
# are INCONCLUSIVE naming what the bench would need, and the GSM requirements are compared apart.
CELLULAR_REQUIREMENTS = {"FS38-GSM-01", "FS38-GSM-02"}
# The twin's lab config has no `link:` (its capture is on the lab bridge, behind any cut, so the
# attempts the back-off test judges would be hidden): the network-outage tests are INCONCLUSIVE
# there naming the key, and are compared without them, like the tests waiting for the maker's key.
NO_LINK_CONTROL = "provides no network link control"
pytestmark = [pytest.mark.integration, pytest.mark.bench_twin]


@pytest.fixture(scope="module")
def twin_runs(reference_suite_runs: dict) -> dict[str, dict[str, dict]]:
    """variant -> {"emulated": results, "twin": results}, and the side-by-side table written out."""
    pairs = {
        variant: {
            "emulated": reference_suite_runs[f"emulated-{variant}"].results,
            "twin": reference_suite_runs[f"twin-{variant}"].results,
        }
        for variant in VARIANTS
        if f"twin-{variant}" in TWINS_IN_THIS_RUN
    }
    _write_tables(pairs)
    return pairs


def _pair(twin_runs: dict, variant: str) -> dict[str, dict]:
    if variant not in twin_runs:
        pytest.skip(
            f"the {variant} twin runs with `make bench-twins` (HILSEC_BOTH_TWINS=1), not in make test"
        )
    return twin_runs[variant]


def _verdicts(results: dict) -> dict[str, str]:
    return {r["id"]: r["verdict"] for r in results["requirements"]}


def _write_tables(pairs: dict[str, dict[str, dict]]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    table: dict[str, dict[str, dict[str, str]]] = {}
    lines = [
        "# Requirement verdicts: emulated run vs bench twin",
        "",
        "Hardened twin (with the console-lockout hardening knob): console on a pty path; vulnerable twin:"
        " console over RFC 2217 (ser2net).",
        "",
        "| requirement | hardened emulated | hardened twin | vulnerable emulated | vulnerable twin |",
        "|---|---|---|---|---|",
    ]
    ids = list(_verdicts(pairs["hardened"]["emulated"]))
    ran = [v for v in VARIANTS if v in pairs]
    for rid in ids:
        row = {v: {k: _verdicts(pairs[v][k]).get(rid, "-") for k in ("emulated", "twin")} if v in pairs
               else {"emulated": "not run", "twin": "not run"} for v in VARIANTS}  # fmt: skip
        table[rid] = {f"{v}_{k}": row[v][k] for v in ran for k in ("emulated", "twin")}
        cells = [row[v][k] + ("" if row[v]["emulated"] == row[v]["twin"] else " *") for v in VARIANTS
                 for k in ("emulated", "twin")]  # fmt: skip
        lines.append(f"| {rid} | " + " | ".join(cells) + " |")
    lines += ["", "`*`: the twin's verdict differs from the emulated one.", ""]
    for variant in ran:
        emulated = {t["nodeid"].split("::")[-1]: t for t in pairs[variant]["emulated"]["tests"]}
        for test in pairs[variant]["twin"]["tests"]:
            name = test["nodeid"].split("::")[-1]
            other = emulated.get(name)
            if other is None or other["verdict"] != test["verdict"]:
                lines.append(
                    f"- {variant} `{name}`: emulated {other['verdict'] if other else '-'}, twin "
                    f"{test['verdict']}: {test['reason'][:300]}"
                )
    (ARTIFACTS / "bench-twin-verdicts.md").write_text("\n".join(lines) + "\n")
    (ARTIFACTS / "bench-twin-verdicts.json").write_text(json.dumps(table, indent=2))


def _short(test: dict) -> str:
    return test["nodeid"].split("::")[-1]


def _needs_the_key(twin: dict) -> set[str]:
    """The twin's tests left undecided for want of the maker's signing key (none with the hook)."""
    if MAKER_PACKAGES_ON_TWIN:
        return set()
    return {_short(t) for t in twin["tests"] if t["verdict"] == "INCONCLUSIVE" and MISSING_KEY in t["reason"]}


def _cellular_tests(results: dict) -> set[str]:
    return {_short(t) for t in results["tests"] if CELLULAR_REQUIREMENTS & set(t["requirements"])}


def _left_out(twin: dict) -> set[str]:
    """What the comparison leaves out: the tests waiting for the maker's key, and those the twin
    cannot run for want of network link control (lab config `link:`)."""
    no_link = {
        _short(t) for t in twin["tests"] if t["verdict"] == "INCONCLUSIVE" and NO_LINK_CONTROL in t["reason"]
    }
    return _needs_the_key(twin) | no_link


def _rolled_up(results: dict, leave_out: set[str]) -> dict[str, str]:
    """Each requirement's verdict from its tests, leaving out `leave_out` (test short names) and the
    cellular requirements (see CELLULAR_REQUIREMENTS)."""
    tests = {t["nodeid"]: t for t in results["tests"]}
    return {
        r["id"]: str(
            rollup(Verdict(tests[n]["verdict"]) for n in r["tests"] if _short(tests[n]) not in leave_out)
        )
        for r in results["requirements"]
        if r["id"] not in CELLULAR_REQUIREMENTS
    }


def _why(emulated: dict, twin: dict, requirements: set[str]) -> list[str]:
    """Both runs' verdicts and reasons for the tests of `requirements`, for the failure message."""
    lines = []
    for label, results in (("emulated", emulated), ("twin", twin)):
        for test in results["tests"]:
            if requirements & set(test["requirements"]):
                lines.append(f"{label} {_short(test)}: {test['verdict']}: {test['reason'][:300]}")
    return lines


@pytest.mark.parametrize("variant", VARIANTS)
def test_twin_verdicts_equal_the_emulated_ones(twin_runs: dict, variant: str) -> None:
    pair = _pair(twin_runs, variant)
    emulated, twin = pair["emulated"], pair["twin"]
    assert set(_verdicts(twin)) == set(_verdicts(emulated))
    leave_out = _left_out(twin) | _cellular_tests(twin)
    expected, found = _rolled_up(emulated, leave_out), _rolled_up(twin, leave_out)
    differing = {rid: (expected[rid], found[rid]) for rid in expected if expected[rid] != found[rid]}
    assert not differing, (differing, _why(emulated, twin, set(differing)))
    emulated_tests = {_short(t): t["verdict"] for t in emulated["tests"]}
    for test in twin["tests"]:  # and test by test, apart from those waiting for the maker's packages
        if _short(test) not in leave_out:
            assert test["verdict"] == emulated_tests[_short(test)], _why(
                emulated, twin, set(test["requirements"])
            )


def test_fs38_03_is_decided_on_the_twin_from_the_makers_packages(twin_runs: dict) -> None:
    """The twin holds no signing key the harness made: every update test is decided from the
    maker's valid and older packages and what the harness derives from them, both ways."""
    assert MAKER_PACKAGES_ON_TWIN
    for variant, expected in (("hardened", "PASS"), ("vulnerable", "FAIL")):
        if variant not in twin_runs:
            continue  # (the vulnerable twin: make bench-twins)
        twin = twin_runs[variant]["twin"]
        update_tests = [t for t in twin["tests"] if MAKER_PACKAGE_REQUIREMENT in t["requirements"]]
        undecided = [(_short(t), t["reason"]) for t in update_tests if t["verdict"] == "INCONCLUSIVE"]
        assert update_tests and not undecided, (variant, undecided)
        assert _verdicts(twin)[MAKER_PACKAGE_REQUIREMENT] == expected, (
            variant,
            _why(twin, twin, {MAKER_PACKAGE_REQUIREMENT}),
        )


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_twin_without_modem_or_cell_says_what_its_gsm_tests_need(twin_runs: dict, variant: str) -> None:
    twin = _pair(twin_runs, variant)["twin"]
    cellular = [t for t in twin["tests"] if CELLULAR_REQUIREMENTS & set(t["requirements"])]
    assert cellular
    for test in cellular:
        if (
            test["verdict"] == "FAIL"
        ):  # a declared weakness (the vulnerable profile's own words) needs no radio
            continue
        assert test["verdict"] == "INCONCLUSIVE", test
        assert "lab config: cell" in test["reason"] or "profile: cellular.modem" in test["reason"], test


@pytest.mark.parametrize("variant", VARIANTS)
def test_twin_runs_went_through_the_bench_path(twin_runs: dict, variant: str) -> None:
    device = _pair(twin_runs, variant)["twin"]["device"]
    capabilities = device["capabilities"]
    console = REFERENCE_TWINS[f"twin-{variant}"][1]
    expected_console = "serial /dev/pts/" if console == "pty" else "serial rfc2217://127.0.0.1:"
    assert capabilities["console"].startswith(expected_console), capabilities
    assert capabilities["power control"].startswith("power by command"), capabilities
    assert "on interface" in capabilities["packet capture"], capabilities
    assert "bench LAN in network namespace" in capabilities["lab network"], capabilities
    assert not any("QEMU" in text for text in capabilities.values()), capabilities

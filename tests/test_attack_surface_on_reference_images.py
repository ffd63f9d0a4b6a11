"""FS38-05's port scan against reference images: hardened PASS, the debug-service knob FAIL naming
only its port, vulnerable FAIL naming telnet and the debug port, and user-mode networking
INCONCLUSIVE (the lab cannot see the whole device there). The same runs carry the declared-
implementations suite (EN 303 645 5.5-2), which reuses the scan: hardened PASS comparing dropbear's
version, the debug-service knob FAIL naming only its undeclared shell, the vulnerable profile (a
stale dropbear version, no telnet daemon or debug shell declared, no reviews) FAIL on each.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from reference_runs import LAB_CONFIG, knob_profile, run_suites

SUITE = "testsuites/test_attack_surface.py"
IMPLEMENTATIONS_SUITE = "testsuites/test_implementations.py"
IMPLEMENTATIONS_TEST = "test_answering_implementations_are_the_declared_ones"
REVIEWS_TEST = "test_each_declared_implementation_was_reviewed_for_its_purpose"
RUN_TIMEOUT_S = 300
TEST_NAME = "test_only_declared_services_listen"
pytestmark = pytest.mark.integration


def _lab_config(folder: Path, network: dict) -> Path:
    data = yaml.safe_load(LAB_CONFIG.read_text())
    data["network"] = network
    path = folder / f"lab-{network['mode']}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("attack-surface")
    # One namespace run on TEST-NET-1 to show the lab subnet is the lab config's choice.
    namespace = _lab_config(out, {"mode": "namespace", "subnet": "192.0.2.0/24"})
    user = _lab_config(out, {"mode": "user"})
    plan = {
        "hardened": (knob_profile(out, [], name="hardened"), namespace),
        "debug-service": (knob_profile(out, ["debug-service"], name="debug-service"), namespace),
        "vulnerable": (knob_profile(out, None, base="vulnerable", name="vulnerable"), namespace),
        "user-mode": (knob_profile(out, ["debug-service"], name="user-mode"), user),
    }
    outcomes = run_suites(
        out,
        {name: profile for name, (profile, _) in plan.items()},
        [SUITE, IMPLEMENTATIONS_SUITE],
        timeout_s=RUN_TIMEOUT_S,
        lab_config={name: lab for name, (_, lab) in plan.items()},
        pytest_args=["-v"],
    )
    results = {}
    for name, outcome in outcomes.items():
        test = next(t for t in outcome.results["tests"] if t["nodeid"].endswith(TEST_NAME))
        results[name] = test | {
            "_log": outcome.log,
            "_report": outcome.report_dir,
            "_device": outcome.results["device"],
            "_tests": outcome.tests,
        }
    return results


def test_hardened_passes_with_only_ssh_open(runs: dict[str, dict]) -> None:
    run = runs["hardened"]
    assert run["verdict"] == "PASS", run["_log"][-3000:]
    scan = next(run["_report"].rglob("port-scan.txt")).read_text()
    assert "target 192.0.2.15" in scan and "65535 ports" in scan
    assert "open: [22]" in scan and "only declared services listen: tcp/22 (ssh)" in scan


def test_debug_service_knob_fails_naming_only_its_port(runs: dict[str, dict]) -> None:
    run = runs["debug-service"]
    assert run["verdict"] == "FAIL", run["_log"][-3000:]
    assert (
        "tcp/5555" in run["reason"]
        and "adb" in run["reason"]
        and "a shell that asks for no credential" in run["reason"]
    )
    assert "tcp/23" not in run["reason"] and run["reason"].count(" open: ") == 1


def test_vulnerable_fails_naming_telnet_and_the_debug_port(runs: dict[str, dict]) -> None:
    run = runs["vulnerable"]
    assert run["verdict"] == "FAIL", run["_log"][-3000:]
    assert "tcp/23 open: telnet" in run["reason"] and "tcp/5555 open: a shell" in run["reason"]
    assert "tcp/8023 open: telnet" in run["reason"]  # the maintenance login, found by what answers


def test_user_mode_networking_is_inconclusive_with_the_reason(runs: dict[str, dict]) -> None:
    run = runs["user-mode"]
    assert run["verdict"] == "INCONCLUSIVE", run["_log"][-3000:]
    assert "user-mode networking" in run["reason"] and "cannot scan" in run["reason"]


def test_hardened_implementations_answer_as_declared_and_were_reviewed(runs: dict[str, dict]) -> None:
    tests = runs["hardened"]["_tests"]
    found, reviews = tests[IMPLEMENTATIONS_TEST], tests[REVIEWS_TEST]
    assert found["verdict"] == "PASS", runs["hardened"]["_log"][-3000:]
    assert reviews["verdict"] == "PASS", runs["hardened"]["_log"][-3000:]
    report = runs["hardened"]["_report"]
    compared = next(report.rglob("implementations.txt")).read_text()
    assert "answering as declared: tcp/22 dropbear 2022.83" in compared and "not verified" in compared
    assert "dropbear 2022.83 (SSH server) by" in next(report.rglob("reviews.txt")).read_text()


def test_an_undeclared_debug_shell_fails_the_implementations_test(runs: dict[str, dict]) -> None:
    found = runs["debug-service"]["_tests"][IMPLEMENTATIONS_TEST]
    assert found["verdict"] == "FAIL", runs["debug-service"]["_log"][-3000:]
    assert "tcp/5555 answers as shell" in found["reason"] and "tcp/22" not in found["reason"]


def test_vulnerable_declaration_fails_on_version_undeclared_services_and_reviews(
    runs: dict[str, dict],
) -> None:
    tests = runs["vulnerable"]["_tests"]
    reason = tests[IMPLEMENTATIONS_TEST]["reason"]
    assert tests[IMPLEMENTATIONS_TEST]["verdict"] == "FAIL", runs["vulnerable"]["_log"][-3000:]
    assert "tcp/22 answers as dropbear 2022.83" in reason and "declared version 2020.81" in reason
    assert "tcp/23 answers as telnet" in reason and "tcp/5555 answers as shell" in reason
    assert (
        tests[REVIEWS_TEST]["verdict"] == "FAIL"
        and "no review or evaluation record" in tests[REVIEWS_TEST]["reason"]
    )


def test_user_mode_networking_leaves_the_implementations_inconclusive(runs: dict[str, dict]) -> None:
    found = runs["user-mode"]["_tests"][IMPLEMENTATIONS_TEST]
    assert found["verdict"] == "INCONCLUSIVE" and "user-mode networking" in found["reason"]

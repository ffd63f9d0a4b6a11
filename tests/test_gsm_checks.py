"""The FS38-GSM decisions, both ways, on recorded evidence: the radio monitor decodes GSMTAP frames
recorded on the Osmocom cell during FS38-GSM-01 against the hardened image (tests/data), and the
checks must PASS that and FAIL the same exchange with the weakness each knob adds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from harness.cell import gsmtap
from harness.cell.model import CellEvent, SmsDelivery
from harness.cell.radio_monitor import RadioMonitor
from harness.cell.virtual_um import VirtualUm
from harness.checks.gsm import (
    CraftedSms,
    PositiveControl,
    judge_crafted_sms,
    judge_false_base_station,
    judge_radio_access,
    judge_sms_declarations,
)
from harness.observations.cell import CellPhase
from harness.results.verdicts import Verdict

RECORDED = Path(__file__).parent / "data" / "gsmtap-false-base-station.txt"
IMSI = "001010123456789"
RADIO = "virtual radio (recorded)"
DELIVERED = SmsDelivery("delivered", 3.0, "RP-ACK")
FAILED = SmsDelivery("failed", 10.0, "delivery failure")


def _recorded_events() -> list[CellEvent]:
    monitor = RadioMonitor(VirtualUm(None, 871), Path("/dev/null"))
    for line in RECORDED.read_text().splitlines():
        if line and not line.startswith("#"):
            offset, datagram = line.split()
            monitor.handle(gsmtap.parse(bytes.fromhex(datagram)), 1000.0 + float(offset))
    return monitor.events()


def _phases(events: list[CellEvent], *, downgrade_attached: bool = False) -> list[CellPhase]:
    def window(start: float, end: float) -> tuple[CellEvent, ...]:
        return tuple(e for e in events if 1000 + start <= e.when < 1000 + end)

    return [
        CellPhase("genuine", "LAC 1; A5/1, A5/3", window(0, 4), True, None, False),
        CellPhase(
            "downgrade",
            "LAC 2; A5/0",
            window(4, 23),
            downgrade_attached,
            DELIVERED if downgrade_attached else FAILED,
        ),
        CellPhase("IMSI catcher", "LAC 3; A5/0, identity requests", window(23, 33), False, FAILED),
    ]


def test_the_recorded_hardened_exchange_decodes_and_passes() -> None:
    events = _recorded_events()
    kinds = [e.kind for e in events]
    assert kinds[:3] == ["location-updating-request", "authentication-request", "authentication-response"]
    assert any(e.kind == "ciphering-mode-command" and e.detail.startswith("A5/3") for e in events)
    outcome = judge_false_base_station(
        imsi=IMSI, phases=_phases(events), null_cipher_rejected=True, radio=RADIO
    )
    assert outcome.verdict is Verdict.PASS, outcome
    assert RADIO in outcome.reason


def test_attaching_to_the_downgrade_cell_fails() -> None:
    phases = _phases(_recorded_events(), downgrade_attached=True)
    outcome = judge_false_base_station(imsi=IMSI, phases=phases, null_cipher_rejected=True, radio=RADIO)
    assert outcome.verdict is Verdict.FAIL and "attached to the downgrade cell" in outcome.reason


def test_an_imsi_given_to_the_catcher_fails_and_stays_masked() -> None:
    events = _recorded_events()
    catcher = next(e for e in events if e.kind == "identity-request" and 1023 < e.when < 1033)
    answered = CellEvent(
        catcher.when + 0.1, "identity-response", "uplink", catcher.connection, f"IMSI {IMSI}"
    )
    outcome = judge_false_base_station(imsi=IMSI, phases=_phases([*events, answered]), null_cipher_rejected=True,
                                        radio=RADIO)  # fmt: skip
    assert outcome.verdict is Verdict.FAIL and "disclosed its IMSI" in outcome.reason
    assert IMSI not in outcome.reason


def test_a_false_cell_the_device_never_tried_is_inconclusive() -> None:
    events = [e for e in _recorded_events() if not 1023 < e.when < 1033]
    outcome = judge_false_base_station(
        imsi=IMSI, phases=_phases(events), null_cipher_rejected=True, radio=RADIO
    )
    assert outcome.verdict is Verdict.INCONCLUSIVE and "IMSI catcher" in outcome.reason


def test_no_genuine_attach_is_inconclusive() -> None:
    phases = _phases(_recorded_events())
    phases[0] = replace(phases[0], attached=False)
    outcome = judge_false_base_station(imsi=IMSI, phases=phases, null_cipher_rejected=True, radio=RADIO)
    assert outcome.verdict is Verdict.INCONCLUSIVE and "genuine cell" in outcome.reason


@pytest.mark.parametrize(
    ("allowed", "declared", "rejected", "verdict"),
    [
        (frozenset({"gsm"}), ["gsm"], True, Verdict.PASS),
        (frozenset({"lte-m"}), ["lte-m", "nb-iot"], None, Verdict.PASS),
        (frozenset({"gsm", "lte-m"}), ["lte-m"], True, Verdict.FAIL),  # hidden 2G fallback
        (frozenset({"gsm"}), ["gsm"], False, Verdict.FAIL),  # declared acceptance of A5/0
        (None, ["gsm"], True, Verdict.INCONCLUSIVE),
    ],
)
def test_radio_access_against_the_declaration(allowed, declared, rejected, verdict) -> None:
    outcome = judge_radio_access(allowed=allowed, command="AT+WS46?", answer="+WS46: 12", declared=declared,
                                  null_cipher_rejected=rejected)  # fmt: skip
    assert outcome.verdict is verdict, outcome


def _crafted(*, authorised: bool = False, delivered: bool = True, app: bool = True) -> CraftedSms:
    marker = "hsa1b2c3d4"
    return CraftedSms("a plain text SMS", "an unknown sender", marker, DELIVERED if delivered else FAILED, app,
                      authorised, "hilsec-sms-exec-abc")  # fmt: skip


def _assess(crafted, *, after="server=old", executed=(), log="sms from x: SERVER hsa1b2c3d4", control=True):
    return judge_crafted_sms(
        declared_findings=[], control=PositiveControl(DELIVERED, True) if control else None, crafted=crafted,
        configuration_after=after, executed=executed, log_text=log, radio=RADIO,
    )  # fmt: skip


def test_crafted_sms_that_change_nothing_pass() -> None:
    assert _assess([_crafted()]).verdict is Verdict.PASS


def test_a_changed_configuration_fails() -> None:
    outcome = _assess([_crafted()], after="server=hsa1b2c3d4.invalid:1")
    assert outcome.verdict is Verdict.FAIL and "changed the device's configuration" in outcome.reason


def test_an_authorised_command_through_class0_fails() -> None:
    outcome = _assess([_crafted(authorised=True, app=False)], after="server=hsa1b2c3d4.invalid:1", log="")
    assert outcome.verdict is Verdict.FAIL and "class-0/silent" in outcome.reason


def test_a_command_that_ran_fails() -> None:
    outcome = _assess([_crafted()], executed=["hilsec-sms-exec-abc"])
    assert outcome.verdict is Verdict.FAIL and "ran a command" in outcome.reason


def test_an_unlogged_message_fails() -> None:
    assert _assess([_crafted()], log="nothing here").verdict is Verdict.FAIL


def test_missing_evidence_is_inconclusive() -> None:
    assert _assess([_crafted()], control=False).verdict is Verdict.INCONCLUSIVE
    assert _assess([_crafted(delivered=False)]).verdict is Verdict.INCONCLUSIVE
    failed_control = judge_crafted_sms(declared_findings=[], control=PositiveControl(DELIVERED, False),
                                        crafted=[_crafted()], configuration_after="", executed=(), log_text="hsa1b2c3d4",
                                        radio=RADIO)  # fmt: skip
    assert failed_control.verdict is Verdict.INCONCLUSIVE and "did not apply" in failed_control.reason


def test_sms_declarations_alone_fail_a_declared_weakness_and_decide_nothing_else():
    weak = judge_sms_declarations(False, True, False)
    assert weak.verdict is Verdict.FAIL and "class-0/silent SMS are acted on" in weak.reason
    unknown = judge_sms_declarations(True, True, False)
    assert unknown.verdict is Verdict.INCONCLUSIVE and "cellular.sms_configuration" in unknown.reason

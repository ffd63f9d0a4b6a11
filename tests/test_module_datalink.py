"""The emulated station's LAPDm link notices a dedicated channel that went away (the BTS stopped or
was reconfigured mid-procedure) instead of waiting out a layer-3 timer off the BCCH."""

from __future__ import annotations

import time
from collections import deque

import pytest

from harness.cell import gsmtap, lapdm
from harness.emulation.module import datalink
from harness.emulation.module.datalink import DataLink, LinkError

ARFCN, TIMESLOT, SUBSLOT = 871, 0, 2


class RecordedRadio:
    """A radio that replays queued downlink frames with their arrival times, then stays silent."""

    def __init__(self, frames: list[tuple[gsmtap.GsmtapFrame, float]] | None = None) -> None:
        self.queue = deque(frames or [])
        self.sent: list[gsmtap.GsmtapFrame] = []

    def receive_timed(self, timeout: float) -> tuple[gsmtap.GsmtapFrame | None, bytes, float]:
        if self.queue:
            frame, arrived = self.queue.popleft()
            return frame, b"", arrived
        time.sleep(timeout)
        return None, b"", time.time()

    def send_uplink(self, frame: gsmtap.GsmtapFrame) -> None:
        self.sent.append(frame)


def _downlink(channel_subslot: int, payload: bytes, *, sacch: bool = False) -> gsmtap.GsmtapFrame:
    return gsmtap.GsmtapFrame(
        ARFCN, False, TIMESLOT, gsmtap.SDCCH4, sacch, channel_subslot, 100, -60, payload
    )


def _link(radio: RecordedRadio, timeout: float) -> DataLink:
    return DataLink(radio, arfcn=ARFCN, timeslot=TIMESLOT, channel=gsmtap.SDCCH4, subslot=SUBSLOT,
                    frame_number=100, link_timeout=timeout)  # fmt: skip


def test_a_silent_channel_is_a_lost_radio_link_not_a_wait_for_the_layer_3_timer() -> None:
    radio = RecordedRadio()
    link = _link(radio, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(LinkError, match="radio link lost"):
        link.receive(20.0)
    assert time.monotonic() - started < 5.0


def test_other_channels_talking_do_not_keep_a_dead_channel_alive() -> None:
    now = time.time()
    idle = lapdm.build(lapdm.Frame(0, 1, "U", False, command=lapdm.UI))
    others = [(_downlink(SUBSLOT + 1, idle), now + 0.2 * i) for i in range(1, 20)]
    link = _link(RecordedRadio(others), timeout=1.0)
    link.last_downlink = now
    with pytest.raises(LinkError, match="radio link lost"):
        link.receive(20.0)


def test_a_backlog_read_after_a_stall_is_not_taken_for_silence() -> None:
    """Frames that arrived while the reader was descheduled carry their arrival times: the link's
    own SACCH among them keeps it alive, however late the reader gets to them."""
    stalled_since = time.time() - 10.0
    backlog = []
    for i in range(40):
        arrived = stalled_since + 0.25 * i
        backlog.append((_downlink(SUBSLOT + 1, b"\x03\x03\x01" + b"\x2b" * 20), arrived))
        if i % 2:
            backlog.append((_downlink(SUBSLOT, b"\x00" * 23, sacch=True), arrived))
    message = b"\x05\x02\x00\xf1\x10\x00\x01"  # LOCATION UPDATING ACCEPT
    info = lapdm.build(lapdm.Frame(0, 1, "I", False, ns=0, nr=0, info=message))
    backlog.append((_downlink(SUBSLOT, info), stalled_since + 10.0))
    link = _link(RecordedRadio(backlog), timeout=1.0)
    link.last_downlink = stalled_since
    link._sapis[0].established = True
    assert link.receive(1.0) == (0, message)


def test_receive_on_a_quiet_live_channel_gives_up_at_its_timeout() -> None:
    link = _link(RecordedRadio(), timeout=10.0)
    started = time.monotonic()
    assert link.receive(0.3) is None
    assert 0.3 <= time.monotonic() - started < 1.0


def test_an_unacknowledged_i_frame_is_sent_n200_times_one_t200_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """T200 is re-armed for each retransmission: N200 sends, each waited out for a whole T200."""
    monkeypatch.setattr(datalink, "T200_S", 0.1)
    radio = RecordedRadio()
    link = _link(radio, timeout=10.0)
    link._sapis[0].established = True
    started = time.monotonic()
    with pytest.raises(LinkError, match="no acknowledgement"):
        link.send(b"\x05\x08")
    assert len(radio.sent) == datalink.N200
    assert time.monotonic() - started >= datalink.N200 * 0.1


def test_an_acknowledged_i_frame_is_sent_once() -> None:
    rr = lapdm.build(lapdm.Frame(0, 1, "S", False, nr=1))
    radio = RecordedRadio([(_downlink(SUBSLOT, rr), time.time())])
    link = _link(radio, timeout=10.0)
    link._sapis[0].established = True
    link.send(b"\x05\x08")
    assert len(radio.sent) == 1
    assert link._sapis[0].va == 1


def test_sabm_is_repeated_until_the_echoing_ua_and_given_up_after_n200(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(datalink, "UA_TIMEOUT_S", 0.1)
    initial = b"\x05\x08\x00"
    radio = RecordedRadio()
    with pytest.raises(LinkError, match="no UA"):
        _link(radio, timeout=10.0).establish(initial)
    assert len(radio.sent) == datalink.N200

    ua = lapdm.build(lapdm.Frame(0, 1, "U", True, command=lapdm.UA, info=initial))
    radio = RecordedRadio([(_downlink(SUBSLOT, ua), time.time())])
    link = _link(radio, timeout=10.0)
    link.establish(initial)
    assert link._sapis[0].established and len(radio.sent) == 1

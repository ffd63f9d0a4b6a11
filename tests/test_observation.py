"""Observation windows from the whole-run capture (harness.device.observation): a device whose
current life the capture already covers long enough costs no wait; a fresh one, one just
power-cycled or disturbed, or one whose capture restarted waits only for what is missing; an event
ends the wait early. Fast, on a stand-in device and capture."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.analysis.capture.pcapio import PcapWriter
from harness.capabilities import Capture
from harness.device.life import DeviceLife
from harness.device.observation import observe, observed_since

SHORT_S = 0.4  # a window short enough to wait for in a unit test


@dataclass
class StandInCapture:
    started: float | None
    current: Path | None = None
    description: str = "stand-in capture"

    def files(self) -> list[Path]:
        return [self.current] if self.current is not None else []


@dataclass
class StandInDevice:
    capture: object | None
    life: DeviceLife = field(default_factory=DeviceLife)

    def get(self, capability: type) -> object | None:
        return self.capture if capability is Capture else None


def _device(up_ago_s: float | None, capture_ago_s: float | None = 1000.0) -> StandInDevice:
    now = time.time()
    device = StandInDevice(StandInCapture(now - capture_ago_s if capture_ago_s is not None else None))
    if up_ago_s is not None:
        device.life.prompt_seen()
        device.life.up_since = now - up_ago_s
    return device


def test_a_life_already_long_enough_costs_no_wait() -> None:
    device = _device(up_ago_s=300.0)
    window = observe(device, 25.0)
    assert window.waited_s < 0.5 and window.ended_by == "covered"
    assert abs((window.end - window.start) - 25.0) < 0.5  # the latest 25 s: the window ends now
    assert window.since is not None and window.since < window.start


def test_a_fresh_life_waits_only_for_what_is_missing() -> None:
    device = _device(up_ago_s=SHORT_S / 2)
    window = observe(device, SHORT_S)
    assert window.start == device.life.up_since  # from the device's login, not from the test's start
    assert window.end >= window.start + SHORT_S
    assert SHORT_S / 4 < window.waited_s < SHORT_S


def test_without_a_known_life_or_capture_the_whole_window_is_waited() -> None:
    for device in (_device(up_ago_s=None), StandInDevice(None)):
        began = time.time()
        window = observe(device, SHORT_S)
        assert window.since is None and window.start >= began and window.waited_s >= SHORT_S * 0.9


def test_a_disturbance_or_a_capture_restart_moves_the_start() -> None:
    device = _device(up_ago_s=300.0, capture_ago_s=SHORT_S / 2)  # the capture began anew
    assert observed_since(device) == device.capture.started
    device = _device(up_ago_s=300.0)
    device.life.disturbed("network link cut")
    assert observed_since(device) == device.life.disturbed_until
    window = observe(device, SHORT_S)
    assert window.start == device.life.disturbed_until and window.waited_s >= SHORT_S * 0.8


def test_a_boundary_of_the_test_s_own_is_respected() -> None:
    device = _device(up_ago_s=300.0)
    boundary = time.time() - SHORT_S / 2
    window = observe(device, SHORT_S, not_before=boundary)
    assert window.start == boundary and window.end >= boundary + SHORT_S


def test_an_event_ends_the_wait_and_is_asked_with_the_window_start() -> None:
    device = _device(up_ago_s=0.0)
    asked: list[float] = []
    ready = time.time() + 0.1

    def event(start: float) -> bool:
        asked.append(start)
        return time.time() >= ready

    window = observe(device, 30.0, event=event, poll_s=0.05)
    assert window.ended_by == "event" and window.waited_s < 5.0
    assert set(asked) == {window.start}


def test_an_event_in_a_window_already_covered_is_judged_at_once() -> None:
    device = _device(up_ago_s=300.0)
    window = observe(device, 35.0, event=lambda start: False)
    assert window.ended_by == "covered" and window.waited_s < 0.5


def test_a_capture_that_does_not_say_when_it_began_starts_at_its_first_packet(tmp_path: Path) -> None:
    pcap = tmp_path / "capture.pcap"
    first = time.time() - 50.0
    with pcap.open("wb") as handle:
        writer = PcapWriter(handle, 1)
        writer.write(first, b"\x00" * 60)
        writer.write(first + 1.0, b"\x00" * 60)

    class Unstamped:
        description = "a capture without `started`"
        current = pcap

    device = StandInDevice(Unstamped())
    device.life.prompt_seen()
    device.life.up_since = first - 100.0
    assert abs(observed_since(device) - first) < 1e-3
    device.capture.current = tmp_path / "missing.pcap"
    assert observed_since(device) is None

"""Lab services are chosen per device from its profile: a device that declares no SIP gets no
SIP registrar (no kamailio started for it), one without security logging no syslog receiver, and
the update-check stand-ins only when its declared servers point at the lab."""

from __future__ import annotations

from pathlib import Path

import yaml

from harness.config import load_profile
from harness.lab.services import registry
from harness.lab.services.sip_registrar import KamailioRegistrar
from harness.lab.services.syslog import SyslogService
from harness.lab.services.telemetry import TelemetryService

ROOT = Path(__file__).resolve().parent.parent
HARDENED = ROOT / "device_profiles" / "qemu-reference-hardened.yaml"


def _profile(tmp_path: Path, **features: object):
    data = yaml.safe_load(HARDENED.read_text())
    data["features"].update(features)
    data["features"].setdefault("reasons", {}).update(
        {name: f"this device has no {name}" for name, value in features.items() if value is False}
    )
    for key in ("update_policy",):  # relative paths in the reference profile stay resolvable
        data.pop(key, None)
    path = tmp_path / "device.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_profile(path)


def test_a_device_that_declares_no_sip_gets_no_registrar(tmp_path: Path) -> None:
    chosen = registry.services_for(_profile(tmp_path, sip=False))
    assert KamailioRegistrar not in chosen
    assert TelemetryService in chosen  # every device may send readings


def test_a_device_that_may_speak_sip_gets_one(tmp_path: Path) -> None:
    assert KamailioRegistrar in registry.services_for(_profile(tmp_path, sip=True))
    assert KamailioRegistrar in registry.services_for(_profile(tmp_path))  # undeclared: it may


def test_no_security_logging_means_no_syslog_receiver(tmp_path: Path) -> None:
    assert SyslogService not in registry.services_for(_profile(tmp_path, security_logging=False))


class _Recorder:
    started: list[str] = []

    def __init__(self) -> None:
        self.name = type(self).__name__

    def start(self, workdir: Path, endpoints: object) -> None:
        _Recorder.started.append(self.name)

    def stop(self) -> None:
        pass


def test_start_services_starts_only_what_the_device_needs(tmp_path: Path, monkeypatch) -> None:
    wanted = type("Wanted", (_Recorder,), {"wanted": classmethod(lambda cls, profile: True)})
    unwanted = type("Unwanted", (_Recorder,), {"wanted": classmethod(lambda cls, profile: False)})
    monkeypatch.setattr(registry, "SERVICES", (wanted, unwanted))
    _Recorder.started = []

    class _Side:
        def entered(self):
            from contextlib import nullcontext

            return nullcontext()

    endpoints = type("Endpoints", (), {"side": _Side()})()
    started = registry.start_services(_profile(tmp_path), tmp_path, endpoints)
    assert list(started) == ["Wanted"] and _Recorder.started == ["Wanted"]

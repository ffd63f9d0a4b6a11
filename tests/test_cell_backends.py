"""Choosing the lab's test cell (lab config `cell`): no cell, `backend: none`, a backend that is
not reachable or whose optional library is missing give no capability or an INCONCLUSIVE reason,
never an import error or a stopped run; the `cell` section's errors are one line; an SDR lab gets
osmo-bts-trx pointed at its osmo-trx."""

from __future__ import annotations

import builtins
import socket
from types import SimpleNamespace

import pytest

from harness.cell.model import MtSms, Subscriber
from harness.config.cell import CellSettings
from harness.config.loader import load_lab_config
from harness.device.registry import BuildContext
from harness.drivers.test_cell import CellUnavailable, LabCell, _test_cell, describe, make_backend
from harness.errors import ConfigError

IMSI = "001010123456789"


def _context(tmp_path, cell: dict | None) -> BuildContext:
    lab = SimpleNamespace(cell=CellSettings(**cell) if cell else None, image_cache=tmp_path)
    profile = SimpleNamespace(cellular=SimpleNamespace(imsi=IMSI, ki="00" * 16, msisdn=None))
    return BuildContext(profile, lab, tmp_path)


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as server:
        return server.getsockname()[1]  # nothing listens there once closed


def _assert_inconclusive_with_reason(lab_cell: LabCell, *words: str) -> None:
    lab_cell.start()
    assert lab_cell.failure and "did not start" in lab_cell.failure
    for word in words:
        assert word in lab_cell.failure
    assert lab_cell.identity()["cell_failure"] == lab_cell.failure and lab_cell.events() == []
    with pytest.raises(CellUnavailable, match="did not start"):
        lab_cell.send_sms(IMSI, MtSms("+1", b"x"), 1)
    with pytest.raises(CellUnavailable):
        lab_cell.add_subscriber(Subscriber(IMSI, "00" * 16))
    with pytest.raises(CellUnavailable):
        lab_cell.wait_attached(IMSI, 1)
    lab_cell.stop()


def test_no_cell_means_no_capability(tmp_path) -> None:
    assert _test_cell(_context(tmp_path, None)) is None
    assert _test_cell(_context(tmp_path, {"backend": "none"})) is None


@pytest.mark.parametrize("backend", ["callbox", "callbox-visa", "amarisoft"])
def test_an_unreachable_cell_is_a_reason_not_a_crash(tmp_path, backend) -> None:
    port = _closed_port()
    cell = {
        "callbox": {"backend": "callbox", "callbox": {"address": f"127.0.0.1:{port}", "timeout_s": 2}},
        "callbox-visa": {
            "backend": "callbox",
            "callbox": {"address": f"TCPIP::127.0.0.1::{port}::SOCKET", "timeout_s": 2},
        },  # fmt: skip
        "amarisoft": {
            "backend": "amarisoft",
            "amarisoft": {"url": f"ws://127.0.0.1:{port}/", "timeout_s": 2},
        },
    }[backend]
    lab_cell = _test_cell(_context(tmp_path, cell))
    assert isinstance(lab_cell, LabCell) and lab_cell.backend is None  # nothing imported or opened yet
    _assert_inconclusive_with_reason(lab_cell, "127.0.0.1")


@pytest.mark.parametrize(("backend", "library", "extra"), [
    ("amarisoft", "websockets", "cell-amarisoft"), ("callbox", "pyvisa", "cell-callbox")])  # fmt: skip
def test_a_missing_optional_library_is_a_reason(tmp_path, monkeypatch, backend, library, extra) -> None:
    real_import = builtins.__import__

    def without(name, *args, **kwargs):
        if name == library or name.startswith(library + "."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without)
    cell = {"amarisoft": {"backend": "amarisoft", "amarisoft": {"url": "ws://192.0.2.10:9000/"}},
            "callbox": {"backend": "callbox", "callbox": {"address": "TCPIP::192.0.2.20::hislip0"}}}[backend]  # fmt: skip
    _assert_inconclusive_with_reason(_test_cell(_context(tmp_path, cell)), extra)


def test_descriptions_name_the_radio_before_any_backend_loads() -> None:
    assert "virtual radio" in describe(CellSettings())[1]
    assert describe(CellSettings(radio="sdr"))[1].startswith("SDR")
    assert "callbox" in describe(CellSettings(backend="callbox", callbox={"address": "h:5025"}))[1]
    assert "Amarisoft" in describe(CellSettings(backend="amarisoft", amarisoft={"url": "ws://h:9000/"}))[0]


def test_an_sdr_lab_gets_osmo_bts_trx_pointed_at_its_osmo_trx(tmp_path) -> None:
    settings = CellSettings(
        radio="sdr", sdr={"trx_address": "192.0.2.7", "trx_command": "osmo-trx-uhd -C t.cfg"}
    )
    cell = make_backend(settings, tmp_path / "cell", tmp_path)
    assert (cell.bts, cell.trx_command, cell.radio) == (
        "trx",
        "osmo-trx-uhd -C t.cfg",
        "SDR (osmo-bts-trx with osmo-trx)",
    )
    (tmp_path / "cell").mkdir()
    cell._write_configs()
    bts = (tmp_path / "cell" / "osmo-bts.cfg").read_text()
    assert "osmotrx ip remote 192.0.2.7" in bts and "band DCS1800" in bts
    assert make_backend(CellSettings(), tmp_path / "v", tmp_path).bts == "virtual"


@pytest.mark.parametrize(("section", "field"), [
    ("backend: amarisoft\n  amarisoft: {url: 'http://callbox:9000/'}", "cell.amarisoft.url"),
    ("backend: amarisoft\n  amarisoft: {url: 'ws://callbox:9000/', timeout_s: 0}", "cell.amarisoft.timeout_s"),
    ("backend: callbox\n  callbox: {address: callbox}", "cell.callbox.address"),
    ("backend: callbox\n  callbox: {address: 'h:5025', vendor: anritsu}", "cell.callbox.vendor"),
    ("backend: callbox", "cell"),
    ("backend: amarisoft\n  radio: sdr\n  amarisoft: {url: 'ws://h:9000/'}", "cell"),
])  # fmt: skip
def test_cell_config_errors_are_one_line(tmp_path, section, field) -> None:
    path = tmp_path / "lab.yaml"
    path.write_text(f"kind: lab-config\nname: t\ncell:\n  {section}\n")
    with pytest.raises(ConfigError) as raised:
        load_lab_config(path)
    message = str(raised.value)
    assert "\n" not in message and f": {field}" in message and str(path) in message

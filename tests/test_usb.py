"""USB interface classification on the descriptors of real products (tests/data/usb), the profile
assessment both ways, and the pyusb code path with the device absent."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.analysis.usb import DEBUG_KINDS, KINDS, Interface, UsbDevice, classify
from harness.checks.usb_interfaces import disallowed_functions, judge_usb_interfaces
from harness.drivers.usb import format_devices, list_usb_devices
from harness.results.verdicts import Verdict

DATA = Path(__file__).parent / "data" / "usb"
PRODUCT_FILES = sorted(DATA.glob("*.yaml"))


def load_product(path: Path) -> tuple[UsbDevice, dict[int, str]]:
    raw = yaml.safe_load(path.read_text())
    interfaces = [
        Interface(
            number=i["number"],
            cls=i["class"],
            subclass=i["subclass"],
            protocol=i["protocol"],
            name=i.get("name", ""),
            alternate=i.get("alternate", 0),
        )  # fmt: skip
        for i in raw["interfaces"]
    ]
    device = UsbDevice(raw["vendor_id"], raw["product_id"], raw["product"], raw["manufacturer"], interfaces)
    return device, {int(number): kind for number, kind in raw["expected"].items()}


def product(name: str) -> UsbDevice:
    return load_product(DATA / f"{name}.yaml")[0]


def test_every_product_file_has_a_source_and_known_kinds():
    assert len(PRODUCT_FILES) >= 7
    for path in PRODUCT_FILES:
        raw = yaml.safe_load(path.read_text())
        assert raw["source"].strip(), path.name
        assert set(raw["expected"].values()) <= set(KINDS), path.name


@pytest.mark.parametrize("path", PRODUCT_FILES, ids=lambda p: p.stem)
def test_real_product_interfaces_are_classified(path):
    device, expected = load_product(path)
    got = {finding.interface: finding.kind for finding in classify(device)}
    assert got == expected


@pytest.mark.parametrize(
    ("name", "debug_kind"),
    [
        ("quectel-ec25", "modem-diagnostic"),
        ("st-link-v2-1", "debug-probe"),
        ("ftdi-ft2232h", "debug-probe"),
        ("raspberrypi-debug-probe", "debug-probe"),
        ("google-pixel-adb", "adb"),
        ("google-fastboot", "fastboot"),
        ("stm32-dfu", "dfu"),
    ],
)
def test_production_profile_fails_each_debug_interface(name, debug_kind):
    """A production profile that allows only ordinary functions: the debug interface is a finding."""
    device = product(name)
    allowed = set(KINDS) - DEBUG_KINDS
    findings = disallowed_functions(device, allowed)
    assert [f.kind for f in findings] == [debug_kind] * len(findings) and findings
    assert all(f.debug for f in findings)
    assert "debug interface" in str(findings[0]) and device.usb_id in str(findings[0])


def test_cellular_module_passes_when_profile_allows_its_ordinary_ports():
    device = product("quectel-ec25")
    allowed = {"modem-at", "modem-nmea", "modem-ppp", "modem-network"}
    findings = disallowed_functions(device, allowed)
    assert [(f.interface, f.kind) for f in findings] == [(0, "modem-diagnostic")]
    assert disallowed_functions(device, allowed | {"modem-diagnostic"}) == []


def test_undeclared_ordinary_function_is_a_finding_without_debug_flag():
    findings = disallowed_functions(product("sandisk-cruzer-blade"), {"serial-console"})
    assert [(f.kind, f.debug) for f in findings] == [("mass-storage", False)]
    assert "undeclared USB function" in str(findings[0])
    assert disallowed_functions(product("sandisk-cruzer-blade"), {"mass-storage"}) == []


def test_dfu_alternate_settings_give_one_finding():
    assert len(disallowed_functions(product("stm32-dfu"), set())) == 1


def test_cdc_data_is_judged_through_its_control_interface():
    findings = disallowed_functions(product("raspberrypi-debug-probe"), {"serial-console"})
    assert [f.kind for f in findings] == ["debug-probe"]


def test_unknown_kind_in_profile_is_an_error_not_a_silent_allow():
    with pytest.raises(ValueError, match="modem-diag"):
        disallowed_functions(product("quectel-ec25"), {"modem-diag"})


def test_unknown_vendor_interface_is_vendor_specific_not_debug():
    device = UsbDevice(0x1234, 0x5678, "gadget", interfaces=[Interface(0, 0xFF, 0x12, 0x34)])
    (finding,) = classify(device)
    assert (finding.kind, finding.debug) == ("vendor-specific", False)


# --- the check on top of pyusb ---------------------------------------------------------------------


def test_check_passes_and_fails_on_an_attached_device():
    """The check's own logic, on a real product's descriptors as if attached."""
    ec25_attached = [product("quectel-ec25"), product("sandisk-cruzer-blade")], ""

    failed = judge_usb_interfaces(0x2C7C, 0x0125, {"modem-at", "modem-network"}, ec25_attached)
    assert failed.verdict is Verdict.FAIL
    assert "DM/DIAG" in failed.reason and "modem-nmea" in failed.reason
    assert len(failed.findings) == len(failed.details["disallowed"]) >= 2
    assert {"modem-diagnostic", "modem-at"} <= {i["kind"] for i in failed.details["interfaces"]}
    allowed = {"modem-at", "modem-nmea", "modem-ppp", "modem-network", "modem-diagnostic"}
    passed = judge_usb_interfaces(0x2C7C, 0x0125, allowed, ec25_attached)
    assert passed.verdict is Verdict.PASS, passed.reason


def test_pyusb_with_no_device_attached_gives_reason():
    """The real pyusb path on this host: no USB device is attached (none exists in the lab VM)."""
    devices, reason = list_usb_devices()
    if devices:
        pytest.skip(f"this host has {len(devices)} USB device(s); the absent path needs none")
    assert reason
    assert "USB" in reason or "libusb" in reason or "pyusb" in reason


def test_check_is_inconclusive_with_the_device_absent():
    """Real pyusb: the EC25 is not attached here. Its USB functions were not examined, so the
    verdict is INCONCLUSIVE with why and how to attach it, never NOT_APPLICABLE (the profile
    said the device has USB)."""
    result = judge_usb_interfaces(0x2C7C, 0x0125, {"modem-at"}, list_usb_devices())
    assert result.verdict is Verdict.INCONCLUSIVE and "features.usb: false" in result.missing[0]
    assert "2c7c:0125 is not attached" in result.reason


def test_no_libusb_backend_is_reported(monkeypatch):
    import usb.core

    def no_backend(*args, **kwargs):
        raise usb.core.NoBackendError("No backend available")

    monkeypatch.setattr(usb.core, "find", no_backend)
    devices, reason = list_usb_devices()
    assert devices == [] and "libusb-1.0-0" in reason
    result = judge_usb_interfaces(0x0483, 0xDF11, set(), (devices, reason))
    assert result.verdict is Verdict.INCONCLUSIVE and "no libusb backend" in result.reason


def test_format_devices_without_usb_devices_names_the_reason():
    text = format_devices([])
    assert "Serial ports:\n  (none)" in text
    devices, reason = list_usb_devices()
    if not devices:
        assert f"(none: {reason})" in text


def test_a_known_module_without_declared_interfaces_is_judged_by_its_manuals_layout() -> None:
    from types import SimpleNamespace

    from harness.drivers.usb_attachment import DeclaredUsb

    bg96 = DeclaredUsb(SimpleNamespace(vendor_id=0x2C7C, product_id=0x0296, allowed_kinds=[], interfaces={}))
    assert bg96.declared_interfaces[0] == "modem-diagnostic" and "Quectel BG96" in bg96.description
    own = DeclaredUsb(
        SimpleNamespace(vendor_id=0x2C7C, product_id=0x0296, allowed_kinds=[], interfaces={2: "modem-at"})
    )
    assert own.declared_interfaces == {2: "modem-at"}  # the maker's word comes first
    other = DeclaredUsb(SimpleNamespace(vendor_id=0x1234, product_id=0x5678, allowed_kinds=[], interfaces={}))
    assert other.declared_interfaces == {}

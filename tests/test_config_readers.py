"""Every key the profile and lab config validate has a reader: no key is accepted and then ignored.

A key that validates but changes nothing is worse than an unknown key: the lab believes it
configured something. READERS maps every leaf field of DeviceProfile and LabConfig to the file
(and, where one function does it, the function) that reads it, and the word by which it is read
(`.port`, `"syslog_udp_port"`). The test walks the models: a field without an entry fails, an
entry for a field that no longer exists fails, and so does an entry whose reader no longer
mentions the field. Add a field, add its reader here.
"""

from __future__ import annotations

import ast
import re
import typing
from functools import cache
from pathlib import Path

import pytest
from pydantic import BaseModel

from harness.config import DeviceProfile, LabConfig

ROOT = Path(__file__).resolve().parent.parent

UPDATE_POLICY = "harness/checks/update_policy.py"
DEVICE = "harness/device/device.py"
SERIAL = "harness/drivers/serial_console.py::resolve_serial"
EMULATED = "harness/drivers/emulated.py"
SECURE_BOOT = "testsuites/test_secure_boot.py"
GSM = "testsuites/test_gsm_exposure.py"
POWER = "harness/drivers/command_power.py::CommandPower"
SIGNED_UPDATES = "testsuites/test_signed_updates.py"
HTTP_CHANNEL = "harness/drivers/http_update_channel.py"
CELL = "harness/drivers/test_cell.py"
POOL = "harness/plugin/pool.py"
LABGRID = "harness/lab/labgrid.py"

# field path -> "file[::function or Class.method]" [, the word it is read by (default: the field's name)]
READERS: dict[str, str | tuple[str, str]] = {
    "profile.kind": ("harness/config/loader.py::_kind_of", '"kind"'),
    "profile.name": (DEVICE + "::Device.name", ".name"),
    "profile.vendor": "harness/plugin/__init__.py::_device_identity",
    "profile.model": "harness/plugin/__init__.py::_device_identity",
    "profile.firmware_version": "harness/plugin/__init__.py::_device_identity",
    "profile.launch_date": UPDATE_POLICY + "::judge_support_period",
    "profile.end_of_support_date": UPDATE_POLICY + "::judge_support_period",
    "profile.update_policy.security_update_cadence_days": UPDATE_POLICY + "::judge_update_cadence",
    "profile.update_policy.support_period_months": UPDATE_POLICY,
    "profile.update_policy.release_history.version": UPDATE_POLICY + "::label",
    "profile.update_policy.release_history.date": UPDATE_POLICY + "::label",
    "profile.update_policy.release_history.security_only": UPDATE_POLICY + "::fixes_security",
    "profile.update_policy.release_history.cves": UPDATE_POLICY + "::fixes_security",
    "profile.update_policy.release_history.notes": UPDATE_POLICY + "::judge_content_information",
    "profile.update_policy.release_history.feature_changes": UPDATE_POLICY + "::judge_security_only_releases",
    "profile.update_policy.release_history.labelled_security": UPDATE_POLICY + "::judge_security_labelling",
    "profile.update_policy.release_history.operator_received": UPDATE_POLICY + "::judge_operator_testing",
    "profile.update_policy.release_history.operator_approved": UPDATE_POLICY + "::judge_operator_testing",
    "profile.update_policy.update_manifest": "testsuites/test_signed_updates.py",
    "profile.update_policy.notification_channels": UPDATE_POLICY + "::judge_notification_channels",
    "profile.update_policy.security_bulletin_url": UPDATE_POLICY,
    "profile.update_policy.support_period_url": UPDATE_POLICY + "::judge_support_period_published",
    "profile.update_policy.patch_level_command": "testsuites/test_update_channel.py",
    "profile.update_policy.replaceable": UPDATE_POLICY + "::judge_replacement",
    "profile.update_policy.rollout_order.model": UPDATE_POLICY + "::judge_rollout_order",
    "profile.update_policy.rollout_order.installed_base": UPDATE_POLICY + "::judge_rollout_order",
    "profile.update_policy.operator_update_server": "harness/checks/update_channel.py",
    "profile.update_policy.manufacturer_update_server": "harness/checks/update_channel.py",
    "profile.update_policy.automatic_check_interval_s": "testsuites/test_update_channel.py",
    "profile.console.serial.url": SERIAL,
    "profile.console.serial.port": SERIAL,
    "profile.console.serial.baudrate": SERIAL,
    "profile.console.qemu.reference_image": EMULATED + "::EmulatedBoard._boot_files",
    "profile.console.qemu.weaknesses": "harness/emulation/profile_image.py::image_for_profile",
    "profile.console.qemu.hardening": "harness/emulation/profile_image.py::image_for_profile",
    "profile.console.qemu.kernel": EMULATED + "::EmulatedBoard._boot_files",
    "profile.console.qemu.initrd": EMULATED + "::EmulatedBoard._boot_files",
    "profile.console.qemu.append": EMULATED + "::EmulatedBoard._boot_files",
    "profile.console.qemu.disk": EMULATED + "::EmulatedBoard._boot_files",
    "profile.console.telnet.host": "harness/drivers/telnet_console.py::_telnet",
    "profile.console.telnet.port": "harness/drivers/telnet_console.py::_telnet",
    "profile.console.ssh.host": "harness/drivers/ssh_console.py::_ssh",
    "profile.console.ssh.port": "harness/drivers/ssh_console.py::_ssh",
    "profile.console.ssh.options": "harness/drivers/ssh_console.py::_ssh",
    "profile.login.username": DEVICE + "::Device.login_settings",
    "profile.login.password": DEVICE + "::Device.login_settings",
    "profile.login.login_prompt": DEVICE + "::Device.login_settings",
    "profile.login.password_prompt": DEVICE + "::Device.login_settings",
    "profile.login.shell_prompt": DEVICE + "::Device.login_settings",
    "profile.login.failure_pattern": DEVICE + "::Device.login_settings",
    "profile.login.lockout_seconds": DEVICE + "::Device.__init__",
    "profile.network.address": "harness/drivers/bench_network.py::_bench",
    "profile.network.services.name": "testsuites/test_attack_surface.py",
    "profile.network.services.protocol": "testsuites/test_attack_surface.py",
    "profile.network.services.port": DEVICE + "::Device.login_port",
    "profile.network.services.login": DEVICE + "::Device.login_port",
    "profile.network.interfaces.name": "testsuites/test_network_interfaces.py",
    "profile.network.interfaces.kind": "testsuites/test_network_interfaces.py",
    "profile.network.interfaces.state": "testsuites/test_network_interfaces.py",
    "profile.network.undeclared_interfaces_allowed": "testsuites/test_network_interfaces.py",
    "profile.network.services.cryptography.kex": "testsuites/test_authentication_cryptography.py",
    "profile.network.services.cryptography.host_key": "testsuites/test_authentication_cryptography.py",
    "profile.network.services.cryptography.ciphers": "testsuites/test_authentication_cryptography.py",
    "profile.network.services.cryptography.macs": "testsuites/test_authentication_cryptography.py",
    "profile.features.telnet": ("testsuites/test_default_credentials.py::_try_defaults", ".has(kind)"),
    "profile.features.ssh": ("testsuites/test_default_credentials.py::_try_defaults", ".has(kind)"),
    "profile.features.usb": ("testsuites/test_debug_interfaces.py", '"usb"'),
    "profile.features.cellular": (GSM + "::_cellular", '"cellular"'),
    "profile.features.gsm": (GSM + "::test_module_uses_only_declared_radio_access", '"gsm"'),
    "profile.features.sms": (GSM + "::test_crafted_sms_change_nothing", '"sms"'),
    "profile.features.sip": ("harness/lab/services/sip_registrar.py::KamailioRegistrar.wanted", '"sip"'),
    "profile.features.secure_boot": (SECURE_BOOT + "::test_unverified_boot_image_is_refused", '"secure_boot"'),
    "profile.features.software_update": ("testsuites/test_signed_updates.py::_check_applicable", '"software_update"'),
    "profile.features.security_logging": ("harness/lab/services/syslog.py", '"security_logging"'),
    "profile.features.bootloader_console": ("testsuites/test_debug_interfaces.py", '"bootloader_console"'),
    "profile.features.reasons": "harness/config/profile.py::Features.absence_reason",
    "profile.secure_communication.observation_seconds": "testsuites/test_secure_communication.py",
    "profile.secure_communication.plaintext_allowed.protocol": "testsuites/test_secure_communication.py::test_device_traffic_is_encrypted",
    "profile.secure_communication.plaintext_allowed.port": "testsuites/test_secure_communication.py::test_device_traffic_is_encrypted",
    "profile.secure_communication.plaintext_allowed.reason": "testsuites/test_secure_communication.py::test_device_traffic_is_encrypted",
    "profile.cellular.imsi": "testsuites/test_sip_exposure.py",
    "profile.cellular.imei": "testsuites/test_sip_exposure.py",
    "profile.cellular.msisdn": "testsuites/test_sip_exposure.py",
    "profile.cellular.modem.serial.url": SERIAL,
    "profile.cellular.modem.serial.port": SERIAL,
    "profile.cellular.modem.serial.baudrate": SERIAL,
    "profile.cellular.modem.at_command": "harness/drivers/modem_port.py",
    "profile.cellular.radio_access": GSM + "::test_module_uses_only_declared_radio_access",
    "profile.cellular.null_cipher_rejected": GSM + "::test_module_uses_only_declared_radio_access",
    "profile.cellular.class0_sms_ignored": "harness/checks/gsm.py",
    "profile.cellular.ota_sms_authenticated": "harness/checks/gsm.py",
    "profile.cellular.sms_configuration_accepted": "harness/checks/gsm.py",
    "profile.secure_boot.method": SECURE_BOOT + "::test_unverified_boot_image_is_refused",
    "profile.secure_boot.enforce": SECURE_BOOT + "::_emulated",
    "profile.secure_boot.initrd": SECURE_BOOT + "::_initrd",
    "profile.secure_boot.boot_timeout_s": SECURE_BOOT + "::_emulated",
    "profile.secure_boot.mechanism": (SECURE_BOOT + "::_declared", '"mechanism"'),
    "profile.secure_boot.root_of_trust": (SECURE_BOOT + "::_declared", '"root_of_trust"'),
    "profile.secure_boot.evidence": SECURE_BOOT + "::_declared",
    "profile.firmware_image": "harness/drivers/declared_firmware.py::_declared",
    "profile.usb.vendor_id": "harness/drivers/usb_attachment.py",
    "profile.usb.product_id": "harness/drivers/usb_attachment.py",
    "profile.usb.allowed_kinds": "harness/drivers/usb_attachment.py",
    "profile.usb.interfaces": "harness/drivers/usb_attachment.py",
    "profile.bootloader.prompt": DEVICE + "::Device.__init__",
    "profile.bootloader.boot_command": DEVICE + "::Device.__init__",
    "lab.kind": ("harness/config/loader.py::_kind_of", '"kind"'),
    "lab.name": "harness/plugin/__init__.py",
    "lab.qemu.accel": EMULATED + "::EmulatedBoard.start",
    "lab.qemu.memory_mb": EMULATED + "::EmulatedBoard.start",
    "lab.qemu.boot_timeout_s": DEVICE + "::Device.__init__",
    "lab.image_cache": ("harness/emulation/profile_image.py::image_for_profile", '"image_cache"'),
    "lab.servers.bind_address": "harness/drivers/bench_network.py::_bench",
    "lab.servers.device_facing_address": "harness/drivers/bench_network.py::_bench",
    "lab.servers.tls_certificate": DEVICE + "::Device._endpoints",
    "lab.servers.tls_key": DEVICE + "::Device._endpoints",
    "lab.servers.telemetry_dtls_port": ("harness/lab/services/telemetry.py::TelemetryService.start", '"telemetry_dtls_port"'),
    "lab.servers.telemetry_plain_port": ("harness/lab/services/telemetry.py::TelemetryService.start", '"telemetry_plain_port"'),
    "lab.servers.syslog_udp_port": ("harness/lab/services/syslog.py::SyslogService.start", '"syslog_udp_port"'),
    "lab.servers.syslog_tcp_port": ("harness/lab/services/syslog.py::SyslogService.start", '"syslog_tcp_port"'),
    "lab.servers.syslog_tls_port": ("harness/lab/services/syslog.py::SyslogService.start", '"syslog_tls_port"'),
    "lab.servers.update_http_port": ("harness/lab/services/update_server.py::UpdateServer.start", '"update_http_port"'),
    "lab.servers.update_check_operator_port": ("harness/lab/services/update_checks.py::UpdateCheckServers.start", "update_check_{role}_port"),
    "lab.servers.update_check_manufacturer_port": ("harness/lab/services/update_checks.py::UpdateCheckServers.start", "update_check_{role}_port"),
    "lab.servers.sip_udp_port": ("harness/lab/services/sip_registrar.py::KamailioRegistrar.start", '"sip_udp_port"'),
    "lab.servers.sip_tcp_port": ("harness/lab/services/sip_registrar.py::KamailioRegistrar.start", '"sip_tcp_port"'),
    "lab.servers.sip_tls_port": ("harness/lab/services/sip_registrar.py", '"sip_tls_port"'),
    "lab.timeouts.command_s": DEVICE + "::Device.command_timeout",
    "lab.timeouts.login_s": DEVICE + "::Device.login_timeout",
    "lab.timeouts.lockout_s": DEVICE + "::Device.__init__",
    "lab.serial_ports.url": ("harness/drivers/serial_console.py::resolve_serial", "port.url"),
    "lab.serial_ports.baudrate": ("harness/drivers/serial_console.py::resolve_serial", "port.baudrate"),
    "lab.capture.method": "harness/drivers/interface_capture.py::_interface_capture",
    "lab.capture.interface": "harness/drivers/interface_capture.py::_interface_capture",
    "lab.capture.tool": "harness/drivers/interface_capture.py::_interface_capture",
    "lab.network.mode": "harness/drivers/emulated_network.py::EmulatedNetwork.__init__",
    "lab.network.subnet": "harness/drivers/emulated_network.py::EmulatedNetwork.__init__",
    "lab.network.namespace": "harness/drivers/bench_network.py::_bench",
    "lab.power.on": POWER + ".on",
    "lab.power.off": POWER + ".off",
    "lab.power.cycle": POWER + ".cycle",
    "lab.power.off_seconds": POWER + ".on",
    "lab.power.timeout_s": POWER + "._run",
    "profile.cellular.ki": CELL + "::_test_cell",
    "profile.cellular.module": (GSM + "::test_module_uses_only_declared_radio_access", '"module"'),
    "profile.cellular.sms_configuration.command": GSM + "::test_crafted_sms_change_nothing",
    "profile.cellular.sms_configuration.authenticated_command": GSM + "::test_crafted_sms_change_nothing",
    "profile.cellular.sms_configuration.secret": GSM + "::test_crafted_sms_change_nothing",
    "profile.cellular.sms_configuration.authorised_sender": GSM + "::test_crafted_sms_change_nothing",
    "profile.cellular.sms_configuration.value_template": GSM + "::test_crafted_sms_change_nothing",
    "profile.cellular.sms_configuration.show_command": GSM + "::test_crafted_sms_change_nothing",
    "profile.cellular.sms_configuration.log_command": GSM,
    "profile.secure_boot.firmware": SECURE_BOOT,
    "profile.secure_boot.variables": SECURE_BOOT,
    "profile.secure_boot.loader": SECURE_BOOT,
    "profile.secure_boot.stage2": SECURE_BOOT,
    "profile.secure_boot.kernel": SECURE_BOOT,
    "profile.secure_boot.fit_image": SECURE_BOOT,
    "profile.updates.valid.file": SIGNED_UPDATES,
    "profile.updates.valid.version": SIGNED_UPDATES,
    "profile.updates.older.file": SIGNED_UPDATES,
    "profile.updates.older.version": SIGNED_UPDATES,
    "profile.updates.delivery.console_command": "harness/drivers/console_update_channel.py",
    "profile.updates.delivery.http_upload.port": HTTP_CHANNEL + "::HttpUploadChannel",
    "profile.updates.delivery.http_upload.path": HTTP_CHANNEL + "::HttpUploadChannel",
    "profile.updates.delivery.http_upload.method": HTTP_CHANNEL + "::HttpUploadChannel",
    "profile.updates.delivery.http_upload.scheme": HTTP_CHANNEL + "::HttpUploadChannel",
    "profile.updates.delivery.http_fetch.port": HTTP_CHANNEL + "::HttpFetchChannel",
    "profile.updates.delivery.http_fetch.path": HTTP_CHANNEL + "::HttpFetchChannel",
    "profile.updates.delivery.http_fetch.method": HTTP_CHANNEL + "::HttpFetchChannel",
    "profile.updates.delivery.http_fetch.scheme": HTTP_CHANNEL + "::HttpFetchChannel",
    "profile.updates.version.command": SIGNED_UPDATES,
    "profile.updates.version.pattern": SIGNED_UPDATES,
    "profile.updates.log_command": SIGNED_UPDATES,
    "profile.updates.install_timeout_s": SIGNED_UPDATES,
    "profile.implementations.name": "testsuites/test_implementations.py",
    "profile.implementations.version": "testsuites/test_implementations.py",
    "profile.implementations.purpose": "testsuites/test_implementations.py",
    "profile.implementations.answers_as": "testsuites/test_implementations.py",
    "profile.implementations.review.reference": "testsuites/test_implementations.py",
    "profile.implementations.review.by": "testsuites/test_implementations.py",
    "profile.implementations.review.scope": "testsuites/test_implementations.py",
    "lab.link.down": "harness/drivers/command_link.py::CommandLink.cut",
    "lab.link.up": "harness/drivers/command_link.py::CommandLink.restore",
    "lab.link.timeout_s": "harness/drivers/command_link.py::CommandLink._run",
    "lab.boot_media.write": "harness/drivers/command_boot_media.py",
    "lab.boot_media.timeout_s": "harness/drivers/command_boot_media.py",
    "lab.cell.backend": CELL + "::make_backend",
    "lab.cell.radio": CELL + "::make_backend",
    "lab.cell.network.mcc": CELL + "::_network",
    "lab.cell.network.mnc": CELL + "::_network",
    "lab.cell.network.lac": CELL + "::_network",
    "lab.cell.network.cell_id": CELL + "::_network",
    "lab.cell.network.arfcn": CELL + "::_network",
    "lab.cell.network.band": CELL + "::_network",
    "lab.cell.sdr.trx_address": CELL + "::make_backend",
    "lab.cell.sdr.trx_command": CELL + "::make_backend",
    "lab.cell.amarisoft.url": "harness/cell/amarisoft.py::AmarisoftCell.start",
    "lab.cell.amarisoft.ims_url": "harness/cell/amarisoft.py::AmarisoftCell.start",
    "lab.cell.amarisoft.password": "harness/cell/amarisoft.py::AmarisoftCell.start",
    "lab.cell.amarisoft.timeout_s": ("harness/cell/amarisoft.py::AmarisoftCell.__init__", '"timeout_s"'),
    "lab.cell.callbox.address": "harness/cell/callbox.py::ScpiCallbox.start",
    "lab.cell.callbox.vendor": "harness/cell/callbox.py::ScpiCallbox.__init__",
    "lab.cell.callbox.timeout_s": ("harness/cell/callbox.py::ScpiCallbox.__init__", '"timeout_s"'),
    "lab.cell.callbox.cell_on_timeout_s": ("harness/cell/callbox.py::ScpiCallbox.__init__", '"cell_on_timeout_s"'),
    "lab.cell.attach_timeout_s": GSM + "::_timeouts",
    "lab.cell.sms_timeout_s": GSM + "::_timeouts",
    "lab.signing.key": ("harness/plugin/__init__.py::_signing_key", ".key"),
    # A pool device's power and serial ports become its lab config's (pool.py::candidates), which
    # the same drivers read as the lab's own.
    "lab.pool.name": (POOL + "::candidates", "entry.name"),
    "lab.pool.profile": (POOL + "::candidates", "entry.profile"),
    "lab.pool.power.on": POWER + ".on",
    "lab.pool.power.off": POWER + ".off",
    "lab.pool.power.cycle": POWER + ".cycle",
    "lab.pool.power.off_seconds": POWER + ".on",
    "lab.pool.power.timeout_s": POWER + "._run",
    "lab.pool.serial_ports.url": ("harness/drivers/serial_console.py::resolve_serial", "port.url"),
    "lab.pool.serial_ports.baudrate": ("harness/drivers/serial_console.py::resolve_serial", "port.baudrate"),
    "lab.locks_dir": (POOL + "::acquire", "lab.locks_dir"),
    # A labgrid place: held by harness/lab/labgrid.py (the pool's lock for it), used by its drivers.
    "lab.labgrid.coordinator": (LABGRID + "::PlaceHold.__post_init__", ".coordinator"),
    "lab.labgrid.place": (LABGRID + "::PlaceHold.acquire", ".place"),
    "lab.labgrid.tags": (LABGRID + "::PlaceHold._try_tags", ".tags"),
    "lab.labgrid.power": ("harness/drivers/labgrid_place.py::_labgrid_power", ".power"),
    "lab.labgrid.timeout_s": (LABGRID + "::PlaceHold.__post_init__", ".timeout_s"),
    "lab.pool.labgrid.coordinator": (LABGRID + "::PlaceHold.__post_init__", ".coordinator"),
    "lab.pool.labgrid.place": (LABGRID + "::PlaceHold.acquire", ".place"),
    "lab.pool.labgrid.tags": (LABGRID + "::PlaceHold._try_tags", ".tags"),
    "lab.pool.labgrid.power": ("harness/drivers/labgrid_place.py::_labgrid_power", ".power"),
    "lab.pool.labgrid.timeout_s": (LABGRID + "::PlaceHold.__post_init__", ".timeout_s"),
}  # fmt: skip


def _models(annotation: object) -> list[type[BaseModel]]:
    """The pydantic models inside a field's type (Optional[X], list[X], dict[str, X])."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models(arg)]


def leaf_fields(model: type[BaseModel], prefix: str) -> list[str]:
    """Every field path that holds a value rather than a section of further fields."""
    paths = []
    for name, info in model.model_fields.items():
        inner = _models(info.annotation)
        if inner:
            for sub in inner:
                paths += leaf_fields(sub, f"{prefix}.{name}")
        else:
            paths.append(f"{prefix}.{name}")
    return paths


FIELDS = leaf_fields(DeviceProfile, "profile") + leaf_fields(LabConfig, "lab")


@cache
def _source(where: str) -> str:
    """The text of `file` or of `file::Name` / `file::Class.method`."""
    file, _, qualname = where.partition("::")
    text = (ROOT / file).read_text()
    if not qualname:
        return text
    node: ast.AST = ast.parse(text)
    for part in qualname.split("."):
        node = next(
            child
            for child in ast.iter_child_nodes(node)
            if isinstance(child, (ast.FunctionDef, ast.ClassDef)) and child.name == part
        )
    return ast.get_source_segment(text, node) or ""


def _reader(path: str) -> tuple[str, str]:
    entry = READERS[path]
    where, word = (entry, "." + path.rsplit(".", 1)[1]) if isinstance(entry, str) else entry
    return where, word


def test_every_validated_field_has_a_reader() -> None:
    missing = [path for path in FIELDS if path not in READERS]
    assert not missing, (
        f"fields no code is known to read (add the reader to READERS, or remove the key): {missing}"
    )


def test_every_reader_entry_names_a_field() -> None:
    stale = sorted(set(READERS) - set(FIELDS))
    assert not stale, f"READERS names fields the models no longer have: {stale}"


@pytest.mark.parametrize("path", FIELDS)
def test_the_reader_reads_the_field(path: str) -> None:
    if path not in READERS:
        pytest.fail(f"{path} has no reader entry")
    where, word = _reader(path)
    source = _source(where)
    pattern = re.escape(word) + (r"\b" if word[-1].isalnum() else "")
    assert re.search(pattern, source), f"{where} does not read {path} (no {word!r} in it)"

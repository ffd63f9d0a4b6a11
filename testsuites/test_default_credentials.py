"""FS38-01: no weak, public default credentials on any login the device offers.

Every login (the console and each network login service) must refuse every credential of the
shipped list of well-known defaults, and the lab's own credentials must still work: a device that
refuses everything proves nothing. Network login services are the declared ones plus every one the
lab's service inventory found answering (a full port scan, each port identified by talking to
it), on whatever port; a network service that gives a shell without asking for any credential
fails outright. The decisions are harness.checks.default_credentials (tested both ways).
"""

from __future__ import annotations

import pytest

from harness.checks.default_credentials import (
    default_entry,
    judge_console_logins,
    judge_lab_credential,
    judge_network_logins,
    judge_open_doors,
)
from harness.errors import DeviceError
from harness.plugin.conclusions import conclude, inconclusive
from harness.probes.logins import LOGIN_METHODS, METHOD_FOR_KIND
from harness.probes.netprobe import probe_tcp

pytestmark = pytest.mark.requirement("FS38-01", "EN303645-5.1-1", "EN18031-AUM-5", "CLP13_6.9")


def test_lab_credential_is_not_a_well_known_default(device, default_credentials):
    """The credential the lab was given is itself not on the public list of defaults."""
    settings = device.login_settings
    conclude(judge_lab_credential(settings.username, settings.password, default_credentials))


def _lab_login(device) -> None:
    """The lab's own login on the console; the strategy waits out (or power-cycles away) a lockout."""
    try:
        device.shell()
    except DeviceError as err:
        inconclusive(
            f"the lab's own credentials were refused on the console, so refusals prove nothing: {err}"
        )


@pytest.mark.requirement("TS103701-5.1-1-2c", "TS103701-5.5-4-2b")
def test_console_refuses_default_credentials(device, evidence, default_credentials):
    """The serial console gives no shell for any well-known default credential.

    A refusal counts only if the lab's own login worked right before it: on a device with
    brute-force protection (EN 303 645 5.1-5) a lockout would refuse a correct default too. So
    each default is tried from a state the lab's own login has just proved unlocked, and when a
    lockout follows, the strategy waits it out (or power-cycles) before the next one; what it did
    is in the evidence and in results.json (device.recoveries).
    """
    settings = device.login_settings
    recoveries_before = len(device.recoveries)
    accepted = []
    for pair in default_credentials:
        _lab_login(device)  # proves the console is not locked: the refusal below is the device's answer
        device.logout()
        # The list is published (harness/data): masking its passwords hid "root" in host names.
        if device.console.try_login(*pair, settings, timeout=device.login_timeout, public_password=True):
            accepted.append(default_entry(default_credentials, pair))
            device.mark_logged_in()
    _lab_login(device)  # and the lab's login still works afterwards, for every later test
    recovered = device.recoveries[recoveries_before:]
    if recovered:
        evidence.write_text("recoveries.txt", "".join(f"{r.what}\n" for r in recovered))
    conclude(judge_console_logins(accepted, len(default_credentials)))


def _network_reachable(device) -> bool:
    """At least one declared TCP service answers, so a closed port is a fact, not a dead link."""
    with device.lab_side():
        for service in device.profile.network.services:
            if service.protocol == "tcp" and probe_tcp(*device.endpoint("tcp", service.port)).open:
                return True
    return False


def _targets(device, service_inventory, kind: str) -> list[tuple[int, bool]]:
    """(port, declared) of every `kind` login to try: the declared or standard port, and each
    port where the inventory found such a service answering."""
    port, declared = device.login_port(kind)
    targets = {port: declared}
    for service in service_inventory.services.values():
        if METHOD_FOR_KIND.get(service.kind) == kind:
            targets.setdefault(service.port, False)
    return sorted(targets.items())


@pytest.mark.parametrize("kind", sorted(LOGIN_METHODS))
@pytest.mark.requirement("TS103701-5.1-1-2c")
def test_network_login_refuses_default_credentials(
    device, evidence, default_credentials, service_inventory, kind
):
    """Each network login service of this kind, declared or found on any port, refuses every default."""
    accepted: list[str] = []
    targets = _targets(device, service_inventory, kind)
    for port, declared in targets:
        accepted += _try_defaults(
            device, evidence, default_credentials, kind, port, declared, service_inventory
        )
    ports = [port for port, _ in targets]
    conclude(
        judge_network_logins(
            kind,
            accepted,
            ports,
            inventory_available=service_inventory.available,
            inventory_problem=service_inventory.why_not,
        )
    )


def _try_defaults(
    device, evidence, default_credentials, kind, port, declared, service_inventory
) -> list[str]:
    features = device.profile.features  # the maker says it has this login (ftp has no feature key)
    declared = declared or (kind in features.names() and features.has(kind) is True)
    host, host_port = device.endpoint("tcp", port)
    settings = device.login_settings
    attempt = LOGIN_METHODS[kind]

    def login(user: str, password: str, index: int):
        return attempt(
            host, host_port, user, password, settings,
            transcript=evidence.path(f"{kind}-{port}-{index:02d}.log"), secrets=device.secrets,
            timeout=device.login_timeout,
        )  # fmt: skip

    found = port in service_inventory.services
    with device.lab_side():  # the probes and logins run on the lab side of the device's network
        state = probe_tcp(host, host_port)
        evidence.write_text(f"{kind}-{port}-probe.txt", f"{kind} port {port}: {state.detail}\n")
        if not state.open:
            if declared or found:
                inconclusive(f"{kind} service on port {port} is not reachable: {state.detail}")
            if not _network_reachable(device):
                inconclusive(f"{kind} port {port} is closed, but no declared service answers either")
            return []  # nothing listens: there is no login to accept a default credential

        accepted = []
        for index, pair in enumerate(default_credentials, start=1):
            result = login(*pair, index)
            if not result.service_present:
                inconclusive(f"{kind} on port {port} went away during the test: {result.detail}")
            if result.accepted:
                accepted.append(default_entry(default_credentials, pair))
        if accepted:
            return [
                f"{kind} on port {port} accepted well-known default credential(s): " + ", ".join(accepted)
            ]
        if declared:
            own = login(settings.username, settings.password, 0)
            if not own.accepted:
                inconclusive(
                    f"the lab's own credentials were refused by {kind} ({own.detail}); refusals prove nothing"
                )
    return []


@pytest.mark.requirement("TS103701-5.5-4-2a")
def test_no_network_service_gives_a_shell_without_credentials(service_inventory, evidence):
    """A shell or adb service that asks for no credential at all accepts every default, and more."""
    evidence.write_text("service-inventory.txt", service_inventory.summary())
    if not service_inventory.available:
        inconclusive(service_inventory.why_not)
    conclude(judge_open_doors([str(door) for door in service_inventory.of_kind("shell", "adb")]))

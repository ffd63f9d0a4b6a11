"""FS38-04: is every flow the device starts towards a remote endpoint properly encrypted?

DTLS 1.2+ or TLS 1.2+ with a suite that is not NULL, EXPORT, RC4, DES, 3DES or anonymous. A flow
whose handshake never completed is undetermined: the harness did not see what would be negotiated,
so it cannot call the device safe.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from harness.analysis.capture import Flow, suite_name, suite_weakness

MINIMUM_VERSIONS = {"dtls": ("DTLS 1.2", "DTLS 1.3"), "tls": ("TLS 1.2", "TLS 1.3")}


@dataclass(frozen=True)
class PlaintextAllowance:
    """A flow the lab accepts in the clear, with the reason (shown in the report)."""

    protocol: str
    port: int
    reason: str


# Address configuration carries no application data; every other exemption comes from the profile.
DEFAULT_ALLOWANCES = (PlaintextAllowance("udp", 67, "DHCP address configuration"),)


@dataclass
class Assessment:
    findings: list[str] = field(default_factory=list)
    undetermined: list[str] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)
    exempted: list[str] = field(default_factory=list)


def describe(flow: Flow) -> str:
    return f"{flow.protocol.upper()} {flow.client[0]}:{flow.client[1]} -> {flow.server[0]}:{flow.server[1]}"


def _allowance(flow: Flow, allowances: Sequence[PlaintextAllowance]) -> PlaintextAllowance | None:
    for allowance in allowances:
        if allowance.protocol == flow.protocol and allowance.port == flow.server[1]:
            return allowance
    return None


def assess_flows(
    flows: Iterable[Flow], device_address: str, allowances: Sequence[PlaintextAllowance] = DEFAULT_ALLOWANCES
) -> Assessment:
    """Judge the flows the device initiated; flows the lab opened into the device are not its traffic."""
    result = Assessment()
    for flow in flows:
        if flow.client[0] != device_address or flow.kind == "empty":
            continue
        name = describe(flow)
        allowance = _allowance(flow, allowances)
        if allowance is not None:
            result.exempted.append(f"{name} ({allowance.reason})")
            continue
        if flow.kind == "plaintext":
            sample = flow.plaintext_sample[:40]
            result.findings.append(f"plaintext application payload on {name}: {sample!r}")
            continue
        if flow.negotiated_version is None:
            result.undetermined.append(f"{name}: {flow.kind.upper()} handshake never completed")
            continue
        problems = []
        if flow.negotiated_version not in MINIMUM_VERSIONS.get(flow.kind, ()):
            problems.append(f"negotiated {flow.negotiated_version}, below {MINIMUM_VERSIONS[flow.kind][0]}")
        if flow.negotiated_suite is not None:
            weakness = suite_weakness(flow.negotiated_suite)
            if weakness:
                problems.append(f"{weakness} cipher suite {suite_name(flow.negotiated_suite)}")
        if problems:
            result.findings.append(f"{name}: " + "; ".join(problems))
        else:
            suite = suite_name(flow.negotiated_suite) if flow.negotiated_suite is not None else "?"
            result.protected.append(f"{name}: {flow.negotiated_version} {suite}")
    return result

"""FS38-04: is every flow the device starts towards a remote endpoint properly encrypted?

DTLS 1.2+ or TLS 1.2+ with a suite that is not NULL, EXPORT, RC4, DES, 3DES or anonymous, judged
from what the flow carries, not from its framing:
- application data that reads as text inside DTLS/TLS records was never encrypted (FAIL);
- application data with no ServerHello from the peer had no handshake to key it (FAIL);
- a peer that sent session records (ChangeCipherSpec, application data) but never a ServerHello
  did not complete a handshake (FAIL; an alert alone is a refusal, not a session);
- a client that offers only deprecated versions (SSL 3, TLS 1.0/1.1, DTLS 1.0) FAILs even when the
  lab's peer refuses it, since a peer that accepts would speak them.
A flow whose handshake simply never completed (a ClientHello with a current offer, no answer) is
undetermined: the harness did not see what would be negotiated, so it cannot call it safe; unless
the same server completed a current, strong handshake with the device in another flow: then it was
an attempt cut short (a link the lab cut, a power cycle) that carried no data, and it is listed as
interrupted.
Every flow of the whole capture counts, each named with the time of its first packet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from harness.analysis.capture import CaptureAnalysis, Flow, suite_name, suite_weakness
from harness.results.outcome import Measurement, Outcome

MINIMUM_VERSIONS = {"dtls": ("DTLS 1.2", "DTLS 1.3"), "tls": ("TLS 1.2", "TLS 1.3")}
DEPRECATED_VERSIONS = frozenset(
    ("SSL 2.0", "SSL 3.0", "TLS 1.0", "TLS 1.1", "DTLS 1.0", "DTLS 1.0 (OpenSSL pre 0.9.8f)")
)


@dataclass(frozen=True)
class PlaintextAllowance:
    """A flow the lab accepts in the clear, with the reason (shown in the report)."""

    protocol: str
    port: int
    reason: str


# Address configuration carries no application data; every other exemption comes from the profile.
DEFAULT_ALLOWANCES = (PlaintextAllowance("udp", 67, "DHCP address configuration"),)


@dataclass
class FlowGroups:
    """The device's flows sorted by what they show: not a verdict (judge_traffic decides)."""

    findings: list[str] = field(default_factory=list)
    undetermined: list[str] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)
    exempted: list[str] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)  # hellos only, to a server that completed others


def first_packet_time(flow: Flow) -> str:
    """The flow's first packet as an ISO 8601 UTC time (to the millisecond)."""
    try:
        moment = datetime.fromtimestamp(flow.first_seen, UTC)
    except (OverflowError, OSError, ValueError):
        return f"t={flow.first_seen!r}"
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def describe(flow: Flow) -> str:
    return (
        f"{flow.protocol.upper()} {flow.client[0]}:{flow.client[1]} -> {flow.server[0]}:{flow.server[1]} "
        f"(first packet {first_packet_time(flow)})"
    )


def _allowance(flow: Flow, allowances: Sequence[PlaintextAllowance]) -> PlaintextAllowance | None:
    for allowance in allowances:
        if allowance.protocol == flow.protocol and allowance.port == flow.server[1]:
            return allowance
    return None


def _content_problems(flow: Flow) -> list[str]:
    """What the records carry, whatever their framing says."""
    problems = []
    label = flow.kind.upper()
    if flow.readable_application_data:
        problems.append(
            f"{label} application-data records carry readable plaintext: "
            f"{flow.readable_application_data[:40]!r}"
        )
    if flow.negotiated_version is None:
        if flow.application_records:
            problems.append(
                f"{flow.application_records} {label} application-data record(s) without a completed "
                "handshake (no ServerHello from the peer)"
            )
        elif flow.server_records and not flow.hello_overflow:
            problems.append(
                f"the peer sent {flow.server_records} {label} session record(s) (ChangeCipherSpec or "
                "application data) but no ServerHello"
            )
    offered = flow.offered_versions
    if offered and all(version in DEPRECATED_VERSIONS for version in offered):
        problems.append(f"the device offers only deprecated {' / '.join(offered)}")
    return problems


HTTP_METHODS = (b"GET ", b"HEAD ", b"POST ", b"PUT ")
# Lab services that serve plain HTTP by the harness's design (the update package and update-check
# servers, named by the whereabouts they hand the device); every other lab endpoint is judged.
LAB_PLAINTEXT_SERVICES = ("hilsec.update_",)


def _lab_plaintext_http(flow: Flow, lab_endpoints: Mapping[tuple[str, int], str]) -> str | None:
    """Plaintext HTTP to a server the lab itself runs in the clear (its update servers): the lab
    chose that transport, not the device, so it is no finding of the device's (FS38-03 and the
    update-channel suite judge what travels there)."""
    name = lab_endpoints.get(flow.server)
    if name is None or not name.startswith(LAB_PLAINTEXT_SERVICES):
        return None
    if flow.kind != "plaintext" or not flow.plaintext_sample.startswith(HTTP_METHODS):
        return None
    return f"plaintext HTTP to the lab's own server {name}, which the harness serves in the clear"


def group_flows(
    flows: Iterable[Flow],
    device_address: str,
    allowances: Sequence[PlaintextAllowance] = DEFAULT_ALLOWANCES,
    lab_endpoints: Mapping[tuple[str, int], str] | None = None,
) -> FlowGroups:
    """Sort the flows the device initiated; flows the lab opened into the device are not its traffic."""
    result = FlowGroups()
    incomplete: list[tuple[Flow, str]] = []
    completed: set[tuple[str, tuple[str, int]]] = set()  # (kind, server) with a protected flow
    for flow in flows:
        if flow.client[0] != device_address or flow.kind == "empty":
            continue
        name = describe(flow)
        allowance = _allowance(flow, allowances)
        if allowance is not None:
            result.exempted.append(f"{name} ({allowance.reason})")
            continue
        lab_traffic = _lab_plaintext_http(flow, lab_endpoints or {})
        if lab_traffic is not None:
            result.exempted.append(f"{name} ({lab_traffic})")
            continue
        if flow.kind == "plaintext":
            sample = flow.plaintext_sample[:40]
            result.findings.append(f"plaintext application payload on {name}: {sample!r}")
            continue
        problems = _content_problems(flow)
        if flow.negotiated_version is None:
            if problems:
                result.findings.append(f"{name}: " + "; ".join(problems))
            else:
                if flow.hello_overflow:
                    result.undetermined.append(
                        f"{name}: {flow.kind.upper()} handshake hello not reassembled (analysis memory limit)"
                    )
                else:
                    incomplete.append((flow, f"{name}: {flow.kind.upper()} handshake never completed"))
            continue
        if flow.negotiated_version not in MINIMUM_VERSIONS.get(flow.kind, ()):
            problems.append(f"negotiated {flow.negotiated_version}, below {MINIMUM_VERSIONS[flow.kind][0]}")
        if flow.negotiated_suite is not None:
            weakness = suite_weakness(flow.negotiated_suite)
            if weakness:
                problems.append(f"{weakness} cipher suite {suite_name(flow.negotiated_suite)}")
        if problems:
            result.findings.append(f"{name}: " + "; ".join(dict.fromkeys(problems)))
        else:
            suite = suite_name(flow.negotiated_suite) if flow.negotiated_suite is not None else "?"
            result.protected.append(f"{name}: {flow.negotiated_version} {suite}")
            completed.add((flow.kind, flow.server))
    for flow, text in incomplete:
        if (flow.kind, flow.server) in completed:
            result.interrupted.append(
                text + " (the same server completed a current handshake in another flow)"
            )
        else:
            result.undetermined.append(text)
    return result


def judge_traffic(
    capture: CaptureAnalysis,
    device_address: str,
    allowances: Sequence[PlaintextAllowance] = DEFAULT_ALLOWANCES,
    *,
    observed_seconds: float,
    lab_endpoints: Mapping[tuple[str, int], str] | None = None,
) -> Outcome:
    """The FS38-04 verdict over a whole run's capture: FAIL on any finding; INCONCLUSIVE when a
    capture file was unreadable, flows were past the analysis limits, a handshake was not seen
    through, or the device started no flow at all; else PASS."""
    result = group_flows(capture.flows, device_address, allowances, lab_endpoints)
    missing = capture.gaps() + [f"could not see the outcome of {item}" for item in result.undetermined]
    judged = bool(result.protected)
    return Outcome.from_findings(
        result.findings,
        missing=missing,
        passed=f"{len(result.protected)} flow(s) of the device encrypted with current protocols: "
        + "; ".join(result.protected[:5])
        + (" ..." if len(result.protected) > 5 else ""),
        judged=judged,
        nothing_judged=f"the device started no flow to a remote endpoint in {observed_seconds:.0f} s of observation",
        measurements=(
            Measurement("flows judged", len(capture.flows)),
            Measurement("encrypted flows", len(result.protected)),
            Measurement(
                "analysis buffers peak", capture.retained_peak, "bytes", high=capture.limits.retained_bytes
            ),
        ),
        details={
            "findings": result.findings,
            "undetermined": result.undetermined,
            "interrupted": result.interrupted,
            "protected": result.protected,
            "exempted": result.exempted,
        },
    )

"""Capture analysis: which flows are DTLS/TLS (with versions and suites) and which are plaintext."""

from harness.analysis.capture.flows import CaptureAnalysis, Flow, FlowTable, analyze_capture, classify_flows
from harness.analysis.capture.limits import CaptureLimits
from harness.analysis.capture.suites import suite_name, suite_weakness
from harness.analysis.capture.window import write_window

__all__ = [
    "CaptureAnalysis",
    "CaptureLimits",
    "Flow",
    "FlowTable",
    "analyze_capture",
    "classify_flows",
    "suite_name",
    "suite_weakness",
    "write_window",
]

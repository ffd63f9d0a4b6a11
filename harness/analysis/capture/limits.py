"""Memory limits of the capture analysis: documented numbers, enforced by counting retained bytes.

The capture comes from the device, so whatever its packets claim (a 16 MB handshake message, a
hello split in a thousand fragments, a million flows) must not decide how much memory the analysis
takes. Two kinds of limit hold, whatever the packets say:

- per flow: out-of-order TCP data waiting for a gap (`MAX_PENDING_SEGMENTS`, `MAX_PENDING_BYTES`
  per direction), DTLS hello fragments waiting to be reassembled (`MAX_PENDING_HELLOS` messages
  and `MAX_HELLO` bytes per direction), a TLS hello being collected (`MAX_HELLO` per direction),
  at most `MAX_OFFERED_SUITES` offered suites and `SAMPLE_BYTES` of sample;
- per capture: all those buffers together (`CaptureLimits.retained_bytes`) and the number of
  flows (`CaptureLimits.flows`). A flow over a limit is not silently dropped: the analysis
  says how many flows it could not follow, so a check ends INCONCLUSIVE instead of PASS.

Fixed-size state per flow (counters, addresses, the sample) is not counted byte by byte; the flow
limit bounds it (about 2 KB a flow, measured by benchmarks/capture_memory.py).
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_HELLO = 1 << 16  # a hello bigger than this is not parsed
MAX_PENDING_HELLOS = 4  # DTLS hello messages being reassembled at once, per direction
MAX_HELLO_FRAGMENTS = 64  # fragments kept for one DTLS hello message
MAX_PENDING_SEGMENTS = 64  # out-of-order TCP segments kept per direction
MAX_PENDING_BYTES = 1 << 18  # out-of-order TCP bytes kept per direction
MAX_OFFERED_SUITES = 256
SAMPLE_BYTES = 64
DEFAULT_RETAINED_BYTES = 32 << 20  # every reassembly buffer of one capture together
DEFAULT_MAX_FLOWS = 200_000


@dataclass(frozen=True)
class CaptureLimits:
    """The per-capture limits (the per-flow ones are the module constants)."""

    retained_bytes: int = DEFAULT_RETAINED_BYTES
    flows: int = DEFAULT_MAX_FLOWS


class RetainedBytes:
    """The bytes one capture's analysis holds in reassembly buffers, against its limit."""

    __slots__ = ("limit", "held", "peak", "refused")

    def __init__(self, limit: int = DEFAULT_RETAINED_BYTES) -> None:
        self.limit = limit
        self.held = 0
        self.peak = 0
        self.refused = 0  # how many times a buffer was refused: that data went unread

    def take(self, size: int) -> bool:
        """Reserve `size` bytes; False (and nothing reserved) when that would pass the limit."""
        if self.held + size > self.limit:
            self.refused += 1
            return False
        self.held += size
        if self.held > self.peak:
            self.peak = self.held
        return True

    def give(self, size: int) -> None:
        self.held -= size


DEFAULT_LIMITS = CaptureLimits()

"""UpdateSigning: the manufacturer's update signing identity, when the lab holds it.

Only a maker's own lab (or the reference image, whose maker is hilsec) has the signing key; with
it the harness crafts valid and older packages itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from harness.updates.signing import SigningIdentity


class UpdateSigning(Protocol):
    NAME = "manufacturer's update signing key"
    CONFIG = "the maker's signing identity (the reference image's, kept in the image cache)"

    description: str

    @property
    def identity(self) -> SigningIdentity | None: ...

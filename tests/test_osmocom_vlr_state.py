"""When the Osmocom cell calls a subscriber attached: VLR records as osmo-msc's `show subscriber`
printed them on this machine, during and after location updating."""

from __future__ import annotations

import pytest

from harness.cell.osmocom.cell import attached_in

SETTLED = {
    "LAC / cell ID": "2 / 1",
    "TMSI": "52F38D1A",
    "IMSI detached": "false",
    "Location conf. in HLR": "true",
    "Use count": "1 (attached)",
}


def test_a_settled_record_in_the_cell_is_attached() -> None:
    assert attached_in(SETTLED, "2")


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"LAC / cell ID": "1 / 1"}, "still in the old location area"),
        ({"New TMSI": "52F38D1A"}, "the new TMSI is not confirmed yet"),
        # Updating again while attached: the instant between the TMSI's confirmation and the
        # connection's release (an SMS submitted then was lost with the connection).
        ({"Use count": "2 (attached,active-conn)"}, "the location updating connection is still up"),
        ({"Use count": "1 (active-conn)"}, "a first attach still in progress"),
        ({"IMSI detached": "true"}, "detached"),
        ({"Location conf. in HLR": "false"}, "the HLR has not confirmed"),
    ],
)
def test_a_record_still_updating_is_not_attached(change: dict[str, str], why: str) -> None:
    assert not attached_in({**SETTLED, **change}, "2"), why


def test_an_unknown_subscriber_is_not_attached() -> None:
    assert not attached_in({}, "1")

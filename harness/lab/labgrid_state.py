"""What a labgrid coordinator knows (places, their resources, who acquired them), as JSON on stdout.

Run as `python -m harness.lab.labgrid_state HOST:PORT` by harness.lab.labgrid, in a subprocess of
its own so that a coordinator that hangs is bounded by that process's timeout. It reads the state
through labgrid's own client session (labgrid.remote.client.start_session), so the matching of a
place's resources is labgrid's, not a re-implementation.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _resource(place: Any, path: tuple[str, str, str, str], entry: Any) -> dict[str, Any]:
    match = place.getmatch(path)
    exporter, group, cls, name = path
    return {
        "exporter": exporter,
        "group": group,
        "cls": entry.cls if entry is not None else cls,
        "name": (match.rename if match is not None and match.rename else name),
        "params": dict(entry.params) if entry is not None else {},
        "avail": bool(entry.avail) if entry is not None else False,
    }


def snapshot(session: Any) -> dict[str, Any]:
    """Every place with the resources it uses (acquired) or would use (matching, when free)."""
    places: dict[str, Any] = {}
    for name, place in session.places.items():
        resources = []
        if place.acquired:
            for path in place.acquired_resources:
                exporter, group, cls, resource_name = path
                entry = session.resources.get(exporter, {}).get(group, {}).get(resource_name)
                resources.append(_resource(place, tuple(path), entry))
        else:
            for exporter, groups in session.resources.items():
                for group, group_resources in groups.items():
                    for resource_name, entry in group_resources.items():
                        path = (exporter, group, entry.cls, resource_name)
                        if place.getmatch(path) is not None:
                            resources.append(_resource(place, path, entry))
        places[name] = {
            "acquired": place.acquired or None,
            "tags": dict(place.tags),
            "reservation": place.reservation or None,
            "resources": resources,
        }
    return {"places": places}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m harness.lab.labgrid_state HOST:PORT", file=sys.stderr)
        return 2
    from labgrid.remote.client import start_session

    session = start_session(argv[0])
    try:
        data = snapshot(session)
    finally:
        session.loop.run_until_complete(session.stop())
        session.loop.run_until_complete(session.close())
    json.dump(data, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Load the JSON fixtures of ``fixtures/``: hand-written event graphs with the expected state.

Fixture shape: ``room_version``; ``why`` (the spec reasoning behind ``expected``); ``events``,
each ``{"id", "type", "sender", "state_key", "content", "auth", "ts", "depth"?, "prev"?}`` with
short ids (``"IMA"``) that become ``$IMA``; ``state_sets`` and ``expected`` as lists of those ids
(each event stands for its own ``(type, state_key)``).

Ids are given explicitly to :class:`Event` in every room version, so graphs stay readable. In
room v12 the room id is derived from the create event's id (``!CREATE``) and the create event
is dropped from ``auth`` lists (it is implicit there).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ranvier.core.events import Event, StateKey
from ranvier.core.room_versions import RoomVersion, get_room_version

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Fixture:
    """One loaded fixture."""

    name: str
    why: str
    room_version: RoomVersion
    events: dict[str, Event]
    state_sets: list[dict[StateKey, str]]
    expected: dict[StateKey, str]
    raw: dict[str, Any]

    def pdus(self) -> list[dict[str, Any]]:
        """The PDUs in file order (for the Synapse oracle; v1-format rooms only)."""
        return [self.events["$" + e["id"]].pdu for e in self.raw["events"]]


def fixture_paths() -> list[Path]:
    """Every fixture file, sorted."""
    return sorted(FIXTURES.glob("*.json"))


def load_fixture(path: Path) -> Fixture:
    """Parse and build the events of one fixture file."""
    raw = json.loads(path.read_text())
    rv = get_room_version(raw["room_version"])
    v12 = rv.room_id_from_create_event
    room_id = "!CREATE" if v12 else "!room:a"
    events: dict[str, Event] = {}
    depths: dict[str, int] = {}
    for spec in raw["events"]:
        eid = "$" + spec["id"]
        auth = ["$" + a for a in spec["auth"] if not (v12 and a == "CREATE")]
        prev = ["$" + p for p in spec.get("prev", [])]
        depth = spec.get("depth", 1 + max((depths[p] for p in prev), default=0))
        depths[eid] = depth
        pdu: dict[str, Any] = {
            "type": spec["type"],
            "sender": spec["sender"],
            "state_key": spec["state_key"],
            "content": spec["content"],
            "auth_events": auth,
            "prev_events": prev,
            "depth": depth,
            "origin_server_ts": spec["ts"],
            "hashes": {"sha256": "aGFzaA"},
            "signatures": {},
        }
        if rv.event_id_in_event:
            pdu["event_id"] = eid
            pdu["auth_events"] = [[a, {"sha256": "aGFzaA"}] for a in auth]
            pdu["prev_events"] = [[p, {"sha256": "aGFzaA"}] for p in prev]
        if not (v12 and spec["type"] == "m.room.create"):
            pdu["room_id"] = room_id
        events[eid] = Event(pdu, rv, event_id=eid)

    def as_state(ids: list[str]) -> dict[StateKey, str]:
        out: dict[StateKey, str] = {}
        for short in ids:
            ev = events["$" + short]
            assert ev.state_tuple not in out, f"{path.name}: two events for {ev.state_tuple}"
            out[ev.state_tuple] = ev.event_id
        return out

    return Fixture(
        name=raw["name"],
        why=raw["why"],
        room_version=rv,
        events=events,
        state_sets=[as_state(s) for s in raw["state_sets"]],
        expected=as_state(raw["expected"]),
        raw=raw,
    )

"""Gaps in what a remote server sends: prev events it will not divulge, and state it
names for a gap that holds events this server rejects.

Spec: server-server-api "Checks performed on receipt of a PDU", "Rejection",
"Backfilling and retrieving missing events". Two real ranvier servers on loopback;
A's event source (the network seam of :class:`~ranvier.rooms.remote.RemoteInput`) is
wrapped so that B can answer ``/get_missing_events``, ``/state_ids`` and ``/event``
with events it never stored, as a lying or broken server would (Sytest 50federation
36state.pl "Federation rejects inbound events where the prev_events cannot be
found" and "Should not be able to take over the room by pretending there is no PL
event").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ranvier.core.builder import build_event
from ranvier.core.events import JsonDict
from ranvier.federation.fetcher import FederationEventSource
from tests.federation.helpers import craft, room_state, send_txn, shared_room, start_two, stored
from tests.federation.peers import Peer


class Scripted:
    """A's event source, answering some requests from a script, the rest for real."""

    def __init__(self, real: FederationEventSource) -> None:
        self.real = real
        self.missing: list[JsonDict] | None = None
        self.state_ids: dict[str, tuple[list[str], list[str]]] = {}
        self.events: dict[str, JsonDict] = {}
        self.asked: list[tuple[str, str]] = []

    async def fetch_event(self, destination: str, event_id: str) -> JsonDict | None:
        self.asked.append(("event", event_id))
        if event_id in self.events:
            return self.events[event_id]
        return await self.real.fetch_event(destination, event_id)

    async def fetch_auth_chain(
        self, destination: str, room_id: str, event_id: str
    ) -> list[JsonDict]:
        self.asked.append(("event_auth", event_id))
        return await self.real.fetch_auth_chain(destination, room_id, event_id)

    async def fetch_missing(
        self,
        destination: str,
        room_id: str,
        earliest: list[str],
        latest: list[str],
        limit: int,
        min_depth: int,
    ) -> list[JsonDict]:
        self.asked.append(("get_missing_events", ",".join(latest)))
        if self.missing is not None:
            return self.missing
        return await self.real.fetch_missing(
            destination, room_id, earliest, latest, limit, min_depth
        )

    async def fetch_state_ids(
        self, destination: str, room_id: str, event_id: str
    ) -> tuple[list[str], list[str]]:
        self.asked.append(("state_ids", event_id))
        if event_id in self.state_ids:
            return self.state_ids[event_id]
        return await self.real.fetch_state_ids(destination, room_id, event_id)


def _script(a: Peer) -> Scripted:
    fed = a.hs.federation_rooms
    assert fed is not None
    real = fed.remote.source
    assert isinstance(real, FederationEventSource)
    scripted = Scripted(real)
    fed.remote.source = scripted
    return scripted


async def test_pushed_event_whose_prev_events_are_not_divulged_is_dropped(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    room_id, _, bob = await shared_room(a, b)
    script = _script(a)
    hidden = await craft(a, b, room_id, bob, "m.room.message", {"body": "never sent"})
    pushed = await craft(a, b, room_id, bob, "m.room.message", {"body": "2"}, prev=[hidden])
    # B answers /get_missing_events with nothing: A drops the pushed event, and does
    # not take the state of the gap from B either (no /state_ids).
    script.missing = []
    answer = await send_txn(b, a, "gap1", [pushed.pdu])
    assert "error" in answer["pdus"][pushed.event_id]
    assert await stored(a, pushed.event_id) is None
    assert [kind for kind, _ in script.asked] == ["get_missing_events"]
    # A later event on top of the dropped one asks again, and is dropped again.
    third = await craft(a, b, room_id, bob, "m.room.message", {"body": "3"}, prev=[pushed])
    answer = await send_txn(b, a, "gap2", [third.pdu])
    assert "error" in answer["pdus"][third.event_id]
    assert [kind for kind, _ in script.asked] == ["get_missing_events"] * 2
    assert await stored(a, third.event_id) is None


@pytest.mark.parametrize("room_version", ["1", "10"])
async def test_rejected_events_named_as_state_of_a_gap_do_not_count(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None], room_version: str
) -> None:
    # Room v1's state resolution would let the forged event win (it sorts it first
    # and then refuses the real one against it), as the Sytest case shows.
    a, b = await start_two(tmp_path, peers, databases)
    room_id, alice, bob = await shared_room(a, b, room_version)
    state = await room_state(a, room_id)
    real_pl = state[("m.room.power_levels", "")]
    script = _script(a)

    # bob (power 0) forges a power levels event making himself 100 and alice 0; it
    # hangs off an event nobody has, so only its auth events can judge it. Its depth
    # is the lowest, so that room v1's resolution would try it first.
    nowhere = await craft(a, b, room_id, bob, "m.room.message", {"body": "nowhere"})
    grab: dict[str, Any] = dict(real_pl.content, users={bob: 100, alice: 0})
    room = await a.hs.room_storage.events.get_room(room_id)
    assert room is not None
    forged = build_event(
        room_version=room.room_version,
        room_id=room_id,
        sender=bob,
        event_type="m.room.power_levels",
        content=grab,
        state_key="",
        prev_events=[nowhere],
        auth_events=[state[("m.room.create", "")], real_pl, state[("m.room.member", bob)]],
        origin=b.name,
        signing_key=b.key,
        depth=1,
    )
    c = await craft(a, b, room_id, bob, "m.room.message", {"body": "c"}, prev=[nowhere])
    d = await craft(a, b, room_id, bob, "m.room.message", {"body": "d"}, prev=[c])
    e = await craft(a, b, room_id, bob, "m.room.message", {"body": "e"}, prev=[d])
    create = state[("m.room.create", "")]
    join = state[("m.room.member", bob)]
    # A asks B what comes before E: D. D's prev C is unknown, so A asks the state at C:
    # B names the forged power levels as part of it.
    script.missing = [d.pdu]
    script.state_ids[c.event_id] = (
        [create.event_id, join.event_id, forged.event_id],
        [create.event_id, join.event_id],
    )
    script.events = {forged.event_id: forged.pdu, c.event_id: c.pdu}
    answer = await send_txn(b, a, "take", [e.pdu])
    assert answer == {"pdus": {e.event_id: {}}}
    assert ("state_ids", c.event_id) in script.asked

    kept = await stored(a, forged.event_id)
    assert kept is not None and kept.rejected
    for ev in (d, e):
        got = await stored(a, ev.event_id)
        assert got is not None and not got.rejected
    # The room's power levels are still the real ones.
    now = await room_state(a, room_id)
    assert now[("m.room.power_levels", "")].event_id == real_pl.event_id
    assert now[("m.room.power_levels", "")].content["users"][alice] == 100

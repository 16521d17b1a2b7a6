"""Sync's store reads and the to-device store, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ranvier.db import Database
from ranvier.rooms.event_store import StoredEvent
from ranvier.sync.store import SyncStore
from ranvier.sync.to_device import MAX_PER_SYNC, ToDeviceStore
from ranvier.users.devices import DeviceStore
from tests.rooms.conftest import ALICE, BOB, CAROL, Rooms, build_rooms


@pytest.fixture
async def rooms(database: Database) -> AsyncIterator[Rooms]:
    r = build_rooms(database)
    yield r
    await r.bus.close()


def _bodies(events: list[StoredEvent]) -> list[str]:
    return [str(s.event.content.get("body")) for s in events if s.event.type == "m.room.message"]


async def test_paginate_both_ways_with_predicate(rooms: Rooms) -> None:
    room_id = await rooms.service.create_room(ALICE)
    for i in range(30):
        await rooms.service.send_event(room_id, ALICE, "m.room.message", {"body": str(i)})
    store = SyncStore(rooms.fresh_storage())
    room = await store.events.get_room(room_id)
    assert room is not None
    top = await store.events.stream_position()

    page = await store.paginate(room.nid, top, None, True, 5)
    assert _bodies(page.events) == ["29", "28", "27", "26", "25"] and not page.exhausted
    assert page.next_position == page.events[-1].stream_ordering - 1
    nxt = await store.paginate(room.nid, page.next_position, None, True, 5)
    assert _bodies(nxt.events) == ["24", "23", "22", "21", "20"]

    async def odd(s: StoredEvent) -> bool:
        body = s.event.content.get("body")
        return isinstance(body, str) and int(body) % 2 == 1

    page = await store.paginate(room.nid, top, None, True, 200, odd)
    assert _bodies(page.events) == [str(i) for i in range(29, 0, -2)] and page.exhausted
    fwd = await store.paginate(room.nid, 0, None, False, 3)
    assert fwd.events[0].event.type == "m.room.create"
    # a window (lower, upper]
    mid = page.events[7].stream_ordering  # body "15"
    win = await store.paginate(room.nid, mid, mid - 3, True, 100)
    assert _bodies(win.events) == ["15", "14", "13"] and win.exhausted
    assert await store.has_events(room.nid, mid - 1, mid)
    assert not await store.has_events(room.nid, top, top + 10)


async def test_memberships_as_of_a_position_and_state_at(rooms: Rooms) -> None:
    room_id = await rooms.service.create_room(ALICE, preset="public_chat")
    await rooms.membership.join(room_id, BOB)
    store = SyncStore(rooms.fresh_storage())
    joined_at = await store.events.stream_position()
    await rooms.membership.leave(room_id, BOB)
    await rooms.membership.invite(room_id, ALICE, CAROL)
    now = await store.events.stream_position()

    current = {m.room.room_id: m.membership for m in await store.memberships(BOB, now)}
    assert current == {room_id: "leave"}
    past = await store.memberships(BOB, joined_at)
    assert [(m.room.room_id, m.membership, m.stream_ordering) for m in past] == [
        (room_id, "join", joined_at)
    ]
    assert await store.memberships(BOB, joined_at - 1) == []
    assert [m.membership for m in await store.memberships(CAROL, now)] == ["invite"]
    room = past[0].room
    history = await store.membership_events(room, BOB)
    assert [h[2] for h in history] == ["join", "leave"]

    # the state at a position is the snapshot after the last event at or before it
    at_join = await rooms.storage.snapshot(await store.snapshot_nid_at(room.nid, joined_at))
    member = await rooms.storage.state_event(at_join, "m.room.member", BOB)
    assert member is not None and member.membership == "join"
    assert await store.snapshot_nid_at(room.nid, 0) == 0
    members, joined, invited = await store.member_counts(room.nid)
    assert (joined, invited) == (1, 1)
    assert [u for u, _, _ in members] == [ALICE, BOB, CAROL]


async def test_to_device_store(database: Database) -> None:
    devices = DeviceStore(database)
    for device in ("D1", "D2"):
        assert await devices.create(BOB, device, None)
    store = ToDeviceStore(database, devices)
    heard: list[tuple[list[str], int]] = []

    async def listener(users: list[str], pos: int) -> None:
        heard.append((users, pos))

    store.add_listener(listener)

    def local(user_id: str) -> bool:
        return user_id.endswith(":example.org")

    msgs = {
        BOB: {"*": {"all": True}, "D1": {"one": True}, "NOPE": {"x": 1}},
        "@r:remote": {"D": {}},
    }
    pos = await store.send(ALICE, "A1", "t1", "m.test", msgs, local)
    assert pos == 1 and heard == [([BOB], 1)]
    assert await store.send(ALICE, "A1", "t1", "m.test", msgs, local) is None  # same txn
    assert await store.send(ALICE, "A2", "t1", "m.other", {BOB: {"D2": {"n": 2}}}, local) == 2
    assert await store.current_position() == 2

    d1 = await store.pending(BOB, "D1", 0, 10)
    assert d1 == [(1, {"sender": ALICE, "type": "m.test", "content": {"one": True}})]
    d2 = await store.pending(BOB, "D2", 0, 10)
    assert [c for _, c in d2] == [
        {"sender": ALICE, "type": "m.test", "content": {"all": True}},
        {"sender": ALICE, "type": "m.other", "content": {"n": 2}},
    ]
    assert await store.pending(BOB, "D2", 0, 1) == d2[:1]  # up to the sync's token
    assert await store.acknowledge(BOB, "D2", 1) == 1
    assert [p for p, _ in await store.pending(BOB, "D2", 0, 10)] == [2]
    assert await store.pending(BOB, "NOPE", 0, 10) == []

    for i in range(MAX_PER_SYNC + 5):
        await store.send(ALICE, "A1", f"bulk{i}", "m.bulk", {BOB: {"D1": {"i": i}}}, local)
    page = await store.pending(BOB, "D1", 1, 10**6)
    assert len(page) == MAX_PER_SYNC and page[0][1]["content"] == {"i": 0}

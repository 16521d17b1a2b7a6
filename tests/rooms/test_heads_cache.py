"""The cached room heads (current snapshot id, forward extremities) of
:class:`ranvier.rooms.event_store.EventStore` always answer what the database holds:
after local sends (state and not), concurrent sends, a failed persist, an outside
write announced with ``invalidate_heads``, and a slow read racing a write (SQLite and
PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest

from ranvier.db import Database
from ranvier.rooms.event_store import EventStore
from tests.rooms.conftest import ALICE, BOB, Rooms


async def db_heads(db: Database, room_nid: int) -> tuple[int, list[int]]:
    """The heads read straight from the tables."""
    row = await db.fetchone("SELECT current_snapshot_nid FROM rooms WHERE room_nid = $1", room_nid)
    assert row is not None
    rows = await db.fetchall(
        "SELECT event_nid FROM room_forward_extremities WHERE room_nid = $1 ORDER BY event_nid",
        room_nid,
    )
    return int(row[0]), [int(r[0]) for r in rows]


async def cached_heads(events: EventStore, room_nid: int) -> tuple[int, list[int]]:
    return await events.current_snapshot_nid(room_nid), await events.forward_extremities(room_nid)


async def test_heads_follow_local_sends(rooms: Rooms) -> None:
    room_id = await rooms.service.create_room(ALICE, preset="public_chat")
    room = await rooms.storage.events.get_room(room_id)
    assert room is not None
    events = rooms.storage.events
    assert await cached_heads(events, room.nid) == await db_heads(rooms.db, room.nid)
    snapshots = set()
    for i in range(5):
        await rooms.service.send_event(room_id, ALICE, "m.room.message", {"body": str(i)})
        await rooms.service.set_state(room_id, ALICE, "m.room.topic", "", {"topic": str(i)})
        heads = await cached_heads(events, room.nid)
        assert heads == await db_heads(rooms.db, room.nid)
        assert len(heads[1]) == 1
        snapshots.add(heads[0])
    assert len(snapshots) == 5  # each topic made a new current snapshot
    # Concurrent senders, all through the room's queue.
    await rooms.membership.join(room_id, BOB)
    await asyncio.gather(
        *(
            rooms.service.send_event(room_id, (ALICE, BOB)[i % 2], "m.room.message", {"n": i})
            for i in range(30)
        )
    )
    assert await cached_heads(events, room.nid) == await db_heads(rooms.db, room.nid)
    # A fresh store (empty caches) agrees.
    fresh = rooms.fresh_storage().events
    assert await cached_heads(fresh, room.nid) == await cached_heads(events, room.nid)


async def test_outside_write_is_seen_after_invalidate(rooms: Rooms) -> None:
    room_id = await rooms.service.create_room(ALICE)
    room = await rooms.storage.events.get_room(room_id)
    assert room is not None
    events = rooms.storage.events
    snap, ext = await cached_heads(events, room.nid)
    await rooms.db.execute(
        "INSERT INTO room_forward_extremities (room_nid, event_nid) VALUES ($1, $2)",
        room.nid,
        ext[0] - 1,
    )
    assert await events.forward_extremities(room.nid) == ext  # cached: the write is unseen
    events.invalidate_heads(room.nid)
    assert await events.forward_extremities(room.nid) == [ext[0] - 1, ext[0]]
    # The next send builds on both extremities and replaces them.
    await rooms.service.send_event(room_id, ALICE, "m.room.message", {"body": "x"})
    heads = await cached_heads(events, room.nid)
    assert heads == await db_heads(rooms.db, room.nid)
    assert len(heads[1]) == 1 and heads[0] == snap


async def test_failed_persist_keeps_heads_true(
    rooms: Rooms, monkeypatch: pytest.MonkeyPatch
) -> None:
    room_id = await rooms.service.create_room(ALICE)
    room = await rooms.storage.events.get_room(room_id)
    assert room is not None
    events = rooms.storage.events
    before = await cached_heads(events, room.nid)

    async def failing_hook(*_: object) -> list[int]:
        raise RuntimeError("hook failed")

    events.hooks.append(failing_hook)
    with pytest.raises(RuntimeError):
        await rooms.service.send_event(room_id, ALICE, "m.room.message", {"body": "lost"})
    events.hooks.remove(failing_hook)
    assert await cached_heads(events, room.nid) == before == await db_heads(rooms.db, room.nid)
    await rooms.service.send_event(room_id, ALICE, "m.room.message", {"body": "kept"})
    assert await cached_heads(events, room.nid) == await db_heads(rooms.db, room.nid)


async def test_a_read_overtaken_by_a_write_is_not_cached(rooms: Rooms) -> None:
    room_id = await rooms.service.create_room(ALICE)
    room = await rooms.storage.events.get_room(room_id)
    assert room is not None
    events = rooms.storage.events
    events.invalidate_heads(room.nid)
    real_fetchone = events.db.fetchone
    old = await db_heads(rooms.db, room.nid)

    class SlowDb:
        """The store's database, but its next read answers what it read *before* a
        write that lands while the read is in flight (as a slow PostgreSQL read can)."""

        def __getattr__(self, name: str) -> object:
            return getattr(real_db, name)

        async def fetchone(self, sql: str, *args: object) -> object:
            row = await real_fetchone(sql, *args)
            events.db = real_db  # the write itself reads normally
            await rooms.service.set_state(room_id, ALICE, "m.room.topic", "", {"topic": "new"})
            return row

    real_db = events.db
    events.db = SlowDb()  # type: ignore[assignment]
    try:
        answer = await events.current_snapshot_nid(room.nid)
    finally:
        events.db = real_db
    assert answer == old[0]  # what the read saw...
    new = await db_heads(rooms.db, room.nid)
    assert new[0] != old[0]
    assert await events.current_snapshot_nid(room.nid) == new[0]  # ...was not cached

"""The room input pipeline on both databases: persistence, state at events, atomicity,
per-room ordering under concurrency, rooms in parallel, auth rejections, idempotency
and the bus output."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from ranvier.db import DatabaseError
from ranvier.http.types import MatrixError
from ranvier.rooms.event_store import NewEvent
from ranvier.rooms.outputs import ROOM_EVENTS, RoomEventPersisted
from ranvier.rooms.pipeline import LocalEvent
from ranvier.rooms.queue import RoomQueues
from tests.rooms.conftest import ALICE, BOB, Rooms, count


async def test_state_at_each_event_reloads(rooms: Rooms) -> None:
    room_id = await rooms.service.create_room(ALICE, preset="public_chat", name="one")
    await rooms.membership.join(room_id, BOB)
    msg = await rooms.service.send_event(room_id, BOB, "m.room.message", {"body": "hi"})
    await rooms.service.set_state(room_id, ALICE, "m.room.name", "", {"name": "two"})
    fresh = rooms.fresh_storage()
    stored = await fresh.events.get_by_id(msg)
    assert stored is not None and stored.state_before_nid == stored.state_after_nid
    before = await fresh.state_events(await fresh.snapshot(stored.state_before_nid))
    assert before[("m.room.name", "")].content == {"name": "one"}
    assert before[("m.room.member", BOB)].membership == "join"
    current = await fresh.state_events(await fresh.current_state(stored.room_nid))
    assert current[("m.room.name", "")].content == {"name": "two"}
    assert set(current) == set(before)


async def test_messages_share_the_snapshot(rooms: Rooms) -> None:
    room_id = await rooms.service.create_room(ALICE)
    snapshots = await count(rooms.db, "state_snapshots")
    ids = [
        await rooms.service.send_event(room_id, ALICE, "m.room.message", {"body": str(i)})
        for i in range(20)
    ]
    assert await count(rooms.db, "state_snapshots") == snapshots
    stored = [await rooms.storage.events.get_by_id(i) for i in ids]
    assert len({s.state_before_nid for s in stored if s}) == 1


async def test_state_rows_grow_with_state_events_not_members_times_events(rooms: Rooms) -> None:
    room_id = await rooms.service.create_room(ALICE, preset="public_chat")
    members = [f"@u{i}:example.org" for i in range(40)]
    for user in members:
        await rooms.membership.join(room_id, user)
    for i in range(100):
        await rooms.service.send_event(room_id, members[i % 40], "m.room.message", {"n": i})
    rows = await rooms.db.fetchall("SELECT delta, blocks FROM state_snapshots")
    entries = sum(len(d or b"") // 16 for d, _ in rows)
    block_rows = await rooms.db.fetchall("SELECT entries FROM state_blocks")
    entries += sum(len(e) // 16 for (e,) in block_rows)
    state_events = 46 + 40  # createRoom's state events, plus 40 joins (bounded slack)
    # a full copy per event would be ~140 events x ~46 entries = 6,000+ entries
    assert entries < 3 * state_events, entries


async def test_failed_persist_leaves_nothing(rooms: Rooms) -> None:
    room_id = await rooms.service.create_room(ALICE)
    await rooms.service.send_event(
        room_id, ALICE, "m.room.message", {"body": "x"}, device_id="D", txn_id="t1"
    )
    tables = [
        "events",
        "state_snapshots",
        "room_forward_extremities",
        "room_memberships",
        "event_txn_ids",
    ]
    before = {t: await count(rooms.db, t) for t in tables}
    position = await rooms.storage.events.stream_position()
    room = await rooms.service.room(room_id)
    current = await rooms.storage.current_state(room.nid)
    extremities = await rooms.storage.events.forward_extremities(room.nid)
    # A state event (membership) whose transaction id row collides: the last statement
    # fails after the event, snapshot, extremity and membership rows were written.
    ev = await _built_member_event(rooms, room_id, BOB)
    t, s = await rooms.storage.nids.assign_key("m.room.member", BOB)
    with pytest.raises(DatabaseError):
        await rooms.storage.events.persist(
            NewEvent(
                ev, room, t, s, current, extremities, (ALICE, "D", "t1"), "send m.room.message"
            )
        )
    assert {t: await count(rooms.db, t) for t in tables} == before
    assert await rooms.storage.events.stream_position() == position
    assert await rooms.storage.events.current_snapshot_nid(room.nid) == current.nid
    assert await rooms.storage.events.get_by_id(ev.event_id) is None
    # and the room still works
    await rooms.service.send_event(room_id, ALICE, "m.room.message", {"body": "y"})


async def _built_member_event(rooms: Rooms, room_id: str, user: str):  # type: ignore[no-untyped-def]
    """A signed join for ``user`` built on the current state, without persisting it."""
    from ranvier.core.builder import build_event, select_auth_events

    room = await rooms.service.room(room_id)
    storage = rooms.storage
    state = await storage.state_events(await storage.current_state(room.nid))
    prev = await storage.events.get_by_nids(await storage.events.forward_extremities(room.nid))
    content = {"membership": "join"}
    return build_event(
        room_version=room.room_version,
        room_id=room_id,
        sender=user,
        event_type="m.room.member",
        content=content,
        state_key=user,
        prev_events=[s.event for s in prev.values()],
        auth_events=select_auth_events(
            room.room_version, "m.room.member", user, user, content, state
        ),
        origin="example.org",
        signing_key=rooms.pipeline.signing_key,
    )


async def test_concurrent_sends_are_linear(rooms: Rooms) -> None:
    room_id = await rooms.service.create_room(ALICE)
    ids = await asyncio.gather(
        *(rooms.service.send_event(room_id, ALICE, "m.room.message", {"n": i}) for i in range(100))
    )
    assert len(set(ids)) == 100
    fresh = rooms.fresh_storage()
    stored = [await fresh.events.get_by_id(i) for i in ids]
    chain = sorted((s for s in stored if s), key=lambda s: s.stream_ordering)
    assert len(chain) == 100
    for a, b in itertools.pairwise(chain):
        assert b.stream_ordering > a.stream_ordering
        assert b.event.depth == a.event.depth + 1
        assert b.event.prev_event_ids == (a.event.event_id,)
    room = await fresh.events.get_room(room_id)
    assert room is not None
    assert await fresh.events.forward_extremities(room.nid) == [chain[-1].nid]


async def test_rooms_run_in_parallel_and_each_is_linear(rooms: Rooms) -> None:
    r1 = await rooms.service.create_room(ALICE)
    r2 = await rooms.service.create_room(BOB)
    sends = [rooms.service.send_event(r1, ALICE, "m.room.message", {"n": i}) for i in range(30)]
    sends += [rooms.service.send_event(r2, BOB, "m.room.message", {"n": i}) for i in range(30)]
    await asyncio.gather(*sends)
    for room_id in (r1, r2):
        room = await rooms.service.room(room_id)
        rows = await rooms.db.fetchall(
            "SELECT depth FROM events WHERE room_nid = $1 ORDER BY stream_ordering", room.nid
        )
        depths = [r[0] for r in rows]
        assert depths == list(range(1, len(depths) + 1))


async def test_queue_does_not_block_other_rooms() -> None:
    queues = RoomQueues()
    gate = asyncio.Event()
    order: list[str] = []

    async def slow() -> str:
        await gate.wait()
        order.append("a1")
        return "a1"

    async def quick(name: str) -> str:
        order.append(name)
        return name

    a1 = asyncio.ensure_future(queues.run("!a", slow))
    a2 = asyncio.ensure_future(queues.run("!a", lambda: quick("a2")))
    assert await queues.run("!b", lambda: quick("b1")) == "b1"
    assert order == ["b1"]  # room b ran while room a was blocked
    gate.set()
    assert await a1 == "a1" and await a2 == "a2"
    assert order == ["b1", "a1", "a2"]
    assert queues.busy_rooms == 0


async def test_queue_error_goes_to_its_caller_only() -> None:
    queues = RoomQueues()

    async def boom() -> None:
        raise ValueError("no")

    async def fine() -> int:
        return 1

    results = await asyncio.gather(
        queues.run("!a", boom), queues.run("!a", fine), return_exceptions=True
    )
    assert isinstance(results[0], ValueError) and results[1] == 1


async def test_non_member_send_is_forbidden_and_stores_nothing(rooms: Rooms) -> None:
    room_id = await rooms.service.create_room(ALICE)
    events = await count(rooms.db, "events")
    with pytest.raises(MatrixError) as exc:
        await rooms.service.send_event(room_id, BOB, "m.room.message", {"body": "hi"})
    assert exc.value.status == 403 and exc.value.errcode == "M_FORBIDDEN"
    assert await count(rooms.db, "events") == events


async def test_too_large_event(rooms: Rooms) -> None:
    room_id = await rooms.service.create_room(ALICE)
    with pytest.raises(MatrixError) as exc:
        await rooms.service.send_event(room_id, ALICE, "m.room.message", {"body": "x" * 70000})
    assert exc.value.errcode == "M_TOO_LARGE"


async def test_transaction_ids_are_idempotent_per_device(rooms: Rooms) -> None:
    room_id = await rooms.service.create_room(ALICE)
    send = rooms.service.send_event
    first, again = await asyncio.gather(
        send(room_id, ALICE, "m.room.message", {"b": 1}, device_id="D1", txn_id="t"),
        send(room_id, ALICE, "m.room.message", {"b": 2}, device_id="D1", txn_id="t"),
    )
    other = await send(room_id, ALICE, "m.room.message", {"b": 1}, device_id="D2", txn_id="t")
    assert first == again != other
    stored = await rooms.storage.events.get_by_id(first)
    assert stored is not None and stored.event.content == {"b": 1}


async def test_bus_receives_each_event_in_order(rooms: Rooms) -> None:
    got: list[RoomEventPersisted] = []

    async def handler(message: RoomEventPersisted) -> None:
        got.append(message)

    rooms.bus.subscribe(ROOM_EVENTS, handler)
    room_id = await rooms.service.create_room(ALICE, name="n")
    eid = await rooms.service.send_event(room_id, ALICE, "m.room.message", {"body": "x"})
    await rooms.bus.close()
    assert got[0].event_type == "m.room.create" and got[-1].event_id == eid
    assert [m.stream_ordering for m in got] == sorted(m.stream_ordering for m in got)
    assert got[1].membership == "join" and got[1].state_key == ALICE
    assert all(m.room_id == room_id for m in got)


async def test_local_event_with_explicit_state_key_of_other_user(rooms: Rooms) -> None:
    room_id = await rooms.service.create_room(ALICE, room_version="11")
    room = await rooms.service.room(room_id)
    with pytest.raises(MatrixError) as exc:
        await rooms.pipeline.submit(room, LocalEvent(ALICE, "m.custom", {}, state_key=BOB))
    assert exc.value.errcode == "M_FORBIDDEN"

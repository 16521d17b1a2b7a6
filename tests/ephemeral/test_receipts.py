"""Receipts on both databases: persisted, aggregated per room, private ones only for their
owner, threaded ones kept apart, never moving back, and the checks on the event."""

from __future__ import annotations

import pytest

from ranvier.ephemeral.receipts_store import ReceiptStore
from ranvier.http.types import MatrixError
from tests.ephemeral.conftest import Ephemeral, Recorder
from tests.rooms.conftest import ALICE, BOB, CAROL


async def public_room(eph: Ephemeral) -> str:
    room_id = await eph.rooms.service.create_room(ALICE, preset="public_chat")
    await eph.rooms.membership.join(room_id, BOB)
    return room_id


async def send(eph: Ephemeral, room_id: str, body: str = "hi", **content: object) -> str:
    return await eph.rooms.service.send_event(
        room_id, ALICE, "m.room.message", {"msgtype": "m.text", "body": body, **content}
    )


async def test_receipts_are_persisted_and_aggregated(eph: Ephemeral) -> None:
    room_id = await public_room(eph)
    e1, e2 = await send(eph, room_id), await send(eph, room_id)
    rec = Recorder()
    eph.receipts.listeners.add(rec)
    start = await eph.receipts.current_position()

    assert await eph.receipts.send_receipt(room_id, ALICE, "m.read", e2)
    assert await eph.receipts.send_receipt(room_id, BOB, "m.read", e1)
    pos = await eph.receipts.current_position()
    assert pos == start + 2
    assert [c[1:] for c in rec.calls] == [([room_id], []), ([room_id], [])]

    # A fresh store over the same database sees them (persisted, not cached).
    fresh = ReceiptStore(eph.rooms.db)
    stored = await fresh.get(room_id, "m.read", BOB)
    assert stored is not None and stored.event_id == e1 and stored.thread_id is None

    got = await eph.receipts.changes_since(CAROL, [room_id], 0, pos)
    content = got[room_id]["content"]
    assert got[room_id]["type"] == "m.receipt"
    assert set(content) == {e1, e2}
    assert set(content[e2]["m.read"]) == {ALICE}
    assert set(content[e1]["m.read"]) == {BOB}
    assert isinstance(content[e1]["m.read"][BOB]["ts"], int)
    assert "thread_id" not in content[e1]["m.read"][BOB]

    # Incremental: only what came after the token.
    assert await eph.receipts.send_receipt(room_id, BOB, "m.read", e2)
    later = await eph.receipts.current_position()
    delta = await eph.receipts.changes_since(CAROL, [room_id], pos, later)
    assert list(delta[room_id]["content"]) == [e2]
    assert list(delta[room_id]["content"][e2]["m.read"]) == [BOB]
    assert await eph.receipts.changes_since(CAROL, [room_id], later, later) == {}
    # Rooms not asked for are left out.
    assert await eph.receipts.changes_since(CAROL, ["!other:example.org"], 0, later) == {}


async def test_private_receipts_reach_only_their_owner(eph: Ephemeral) -> None:
    room_id = await public_room(eph)
    event_id = await send(eph, room_id)
    rec = Recorder()
    eph.receipts.listeners.add(rec)
    assert await eph.receipts.send_receipt(room_id, BOB, "m.read.private", event_id)
    pos = await eph.receipts.current_position()
    assert rec.calls == [(pos, [], [BOB])]  # wakes only Bob
    own = await eph.receipts.changes_since(BOB, [room_id], 0, pos)
    assert set(own[room_id]["content"][event_id]) == {"m.read.private"}
    assert await eph.receipts.changes_since(ALICE, [room_id], 0, pos) == {}
    assert await eph.receipts.changes_since(ALICE, [room_id], pos - 1, pos) == {}
    # A public receipt next to it: others see only the public one.
    assert await eph.receipts.send_receipt(room_id, BOB, "m.read", event_id)
    pos = await eph.receipts.current_position()
    seen = await eph.receipts.changes_since(ALICE, [room_id], 0, pos)
    assert set(seen[room_id]["content"][event_id]) == {"m.read"}
    mine = await eph.receipts.changes_since(BOB, [room_id], 0, pos)
    assert set(mine[room_id]["content"][event_id]) == {"m.read", "m.read.private"}


async def test_threaded_receipts_are_kept_per_thread(eph: Ephemeral) -> None:
    room_id = await public_room(eph)
    root = await send(eph, room_id, "root")
    reply = await send(
        eph, room_id, "in thread", **{"m.relates_to": {"rel_type": "m.thread", "event_id": root}}
    )
    main_later = await send(eph, room_id, "main")
    assert await eph.receipts.send_receipt(room_id, BOB, "m.read", reply, root)
    assert await eph.receipts.send_receipt(room_id, BOB, "m.read", main_later, "main")
    assert await eph.receipts.send_receipt(room_id, BOB, "m.read", root)  # unthreaded
    pos = await eph.receipts.current_position()
    content = (await eph.receipts.changes_since(ALICE, [room_id], 0, pos))[room_id]["content"]
    assert content[reply]["m.read"][BOB]["thread_id"] == root
    assert content[main_later]["m.read"][BOB]["thread_id"] == "main"
    assert "thread_id" not in content[root]["m.read"][BOB]
    store = eph.receipts.store
    assert (await store.get(room_id, "m.read", BOB, root)) is not None
    assert (await store.get(room_id, "m.read", BOB, "main")) is not None
    # An event in a thread cannot be receipted for another thread or for main.
    for wrong in ("main", main_later):
        with pytest.raises(MatrixError) as exc:
            await eph.receipts.send_receipt(room_id, BOB, "m.read", reply, wrong)
        assert (exc.value.status, exc.value.errcode) == (400, "M_INVALID_PARAM")
    for bad in ("", 5):
        with pytest.raises(MatrixError) as exc:
            await eph.receipts.send_receipt(room_id, BOB, "m.read", reply, bad)
        assert exc.value.errcode == "M_INVALID_PARAM"


async def test_receipts_never_move_back(eph: Ephemeral) -> None:
    room_id = await public_room(eph)
    e1, e2 = await send(eph, room_id), await send(eph, room_id)
    assert await eph.receipts.send_receipt(room_id, BOB, "m.read", e2)
    pos = await eph.receipts.current_position()
    assert not await eph.receipts.send_receipt(room_id, BOB, "m.read", e1)
    assert not await eph.receipts.send_receipt(room_id, BOB, "m.read", e2)  # same event
    stored = await eph.receipts.store.get(room_id, "m.read", BOB)
    assert stored is not None and stored.event_id == e2
    assert await eph.receipts.changes_since(ALICE, [room_id], pos, pos + 10) == {}


async def test_unknown_invisible_or_foreign_events_are_not_found(eph: Ephemeral) -> None:
    room_id = await public_room(eph)
    other = await eph.rooms.service.create_room(ALICE, preset="private_chat")
    foreign = await send(eph, other)
    for event_id in ("$nope", foreign):
        with pytest.raises(MatrixError) as exc:
            await eph.receipts.send_receipt(room_id, BOB, "m.read", event_id)
        assert (exc.value.status, exc.value.errcode) == (404, "M_NOT_FOUND")
    # Carol is not in the private room: its events are invisible to her.
    with pytest.raises(MatrixError) as exc:
        await eph.receipts.send_receipt(other, CAROL, "m.read", foreign)
    assert exc.value.status == 404
    with pytest.raises(MatrixError) as exc:
        await eph.receipts.send_receipt(room_id, BOB, "m.bogus", foreign)
    assert (exc.value.status, exc.value.errcode) == (400, "M_INVALID_PARAM")

"""Fully read markers on both databases: room account data ``m.fully_read``, forward
only, with the receipts ``/read_markers`` may carry."""

from __future__ import annotations

import pytest

from ranvier.http.types import MatrixError
from tests.ephemeral.conftest import Ephemeral
from tests.ephemeral.test_receipts import public_room, send
from tests.rooms.conftest import ALICE, BOB


async def test_markers_update_room_account_data_and_receipts(eph: Ephemeral) -> None:
    room_id = await public_room(eph)
    e1, e2 = await send(eph, room_id), await send(eph, room_id)
    notified: list[tuple[str, int]] = []

    async def listener(user_id: str, position: int) -> None:
        notified.append((user_id, position))

    eph.account_data.add_listener(listener)
    before = await eph.account_data.current_position()
    await eph.markers.set_markers(room_id, BOB, fully_read=e1, read=e2, read_private=e1)
    assert await eph.account_data.get(BOB, room_id, "m.fully_read") == {"event_id": e1}
    changes = await eph.account_data.changes_since(BOB, before)
    assert [(c.room_id, c.data_type, c.content) for c in changes] == [
        (room_id, "m.fully_read", {"event_id": e1})
    ]
    assert notified == [(BOB, changes[0].stream_id)]
    read = await eph.receipts.store.get(room_id, "m.read", BOB)
    private = await eph.receipts.store.get(room_id, "m.read.private", BOB)
    assert read is not None and read.event_id == e2
    assert private is not None and private.event_id == e1

    # Forward only: an earlier event or the same one changes nothing.
    assert not await eph.markers.set_fully_read(room_id, BOB, e1)
    await eph.markers.set_markers(room_id, BOB, fully_read=e1)
    assert len(notified) == 1
    assert await eph.markers.set_fully_read(room_id, BOB, e2)
    assert await eph.account_data.get(BOB, room_id, "m.fully_read") == {"event_id": e2}
    assert not await eph.markers.set_fully_read(room_id, BOB, e1)
    assert await eph.account_data.get(BOB, room_id, "m.fully_read") == {"event_id": e2}
    # Markers are per user.
    assert await eph.account_data.get(ALICE, room_id, "m.fully_read") is None


async def test_marker_event_must_belong_to_the_room(eph: Ephemeral) -> None:
    room_id = await public_room(eph)
    other = await eph.rooms.service.create_room(ALICE, preset="public_chat")
    foreign = await send(eph, other)
    for event_id in (foreign, "$unknown"):
        with pytest.raises(MatrixError) as exc:
            await eph.markers.set_fully_read(room_id, ALICE, event_id)
        assert (exc.value.status, exc.value.errcode) == (404, "M_NOT_FOUND")
    assert await eph.account_data.get(ALICE, room_id, "m.fully_read") is None

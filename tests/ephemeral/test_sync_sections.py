"""The ephemeral sync sections over both databases: typing and receipts per joined room,
presence, ranges, filters and the listener wiring."""

from __future__ import annotations

from ranvier.ephemeral.sync_sections import EphemeralPositions, EphemeralStreams
from ranvier.ephemeral.typing import TypingState
from ranvier.sync.filters import EventFilter, RoomEventFilter
from tests.ephemeral.conftest import Ephemeral, Recorder
from tests.ephemeral.test_receipts import public_room, send
from tests.rooms.conftest import ALICE, BOB


async def test_sections_over_ranges_and_filters(eph: Ephemeral) -> None:
    typing = TypingState(start_position=0)
    streams = EphemeralStreams(typing, eph.receipts, eph.presence)
    recs = Recorder(), Recorder(), Recorder()
    streams.connect(*recs)
    room_id = await public_room(eph)
    quiet = await eph.rooms.service.create_room(ALICE, preset="public_chat")
    event_id = await send(eph, room_id)
    start = await streams.positions()

    typing.set_typing(room_id, ALICE, True, 10_000)
    await eph.receipts.send_receipt(room_id, BOB, "m.read", event_id)
    await eph.presence.set_status(ALICE, "online")
    now = await streams.positions()
    assert (now.typing, now.receipts, now.presence) == (
        start.typing + 1,
        start.receipts + 1,
        start.presence + 1,
    )
    assert [len(r.calls) for r in recs] == [1, 1, 1]

    got = await streams.room_events(BOB, [room_id, quiet], start, now)
    assert list(got) == [room_id]
    assert [e["type"] for e in got[room_id]] == ["m.typing", "m.receipt"]
    assert got[room_id][0]["content"] == {"user_ids": [ALICE]}
    assert list(got[room_id][1]["content"]) == [event_id]
    assert await streams.room_events(BOB, [room_id], now, now) == {}
    initial = await streams.room_events(BOB, [room_id], None, now)
    assert [e["type"] for e in initial[room_id]] == ["m.typing", "m.receipt"]
    # Filters: by type, and by room.
    only_receipts = RoomEventFilter(types=("m.receipt",))
    got = await streams.room_events(BOB, [room_id], start, now, only_receipts)
    assert [e["type"] for e in got[room_id]] == ["m.receipt"]
    assert await streams.room_events(BOB, [room_id], start, now, RoomEventFilter(rooms=())) == {}

    presence = await streams.presence_events(BOB, start, now)
    assert [(e["sender"], e["content"]["presence"]) for e in presence] == [(ALICE, "online")]
    assert await streams.presence_events(BOB, now, now) == []
    assert await streams.presence_events(BOB, None, now, EventFilter(not_senders=(ALICE,))) == []
    typing.close()


async def test_initial_positions_are_zero_for_stored_streams(eph: Ephemeral) -> None:
    streams = EphemeralStreams(TypingState(start_position=5), eph.receipts, eph.presence)
    assert await streams.positions() == EphemeralPositions(5, 0, 0)

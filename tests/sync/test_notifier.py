"""The notifier wakes exactly the waiters an update concerns and loses no update."""

from __future__ import annotations

import asyncio

from ranvier.rooms.outputs import RoomEventPersisted
from ranvier.sync.notifier import Notifier
from ranvier.sync.tokens import SyncToken


def _msg(room: str, pos: int, member: str | None = None) -> RoomEventPersisted:
    return RoomEventPersisted(
        room_id=room,
        event_id=f"$e{pos}",
        stream_ordering=pos,
        room_version="10",
        event_type="m.room.member" if member else "m.room.message",
        state_key=member,
        sender="@s:x",
        membership="invite" if member else None,
        pdu={},
    )


async def test_wakes_room_members_only() -> None:
    n = Notifier()
    n.start(SyncToken(10, 0, 0))
    after = n.current()
    alice = asyncio.create_task(n.wait("@alice:x", ["!a:x"], after, 5))
    bob = asyncio.create_task(n.wait("@bob:x", ["!b:x"], after, 0.3))
    await asyncio.sleep(0.01)
    assert n.waiting == 4
    n.on_room_event(_msg("!a:x", 11))
    assert await asyncio.wait_for(alice, 1) is True
    assert await bob is False
    assert n.waiting == 0 and n.current().events == 11


async def test_member_event_wakes_its_target_and_user_streams() -> None:
    n = Notifier()
    after = n.current()
    carol = asyncio.create_task(n.wait("@carol:x", [], after, 5))
    await asyncio.sleep(0)
    n.on_room_event(_msg("!a:x", 3, member="@carol:x"))
    assert await asyncio.wait_for(carol, 1)
    after = n.current()
    t = asyncio.create_task(n.wait("@carol:x", [], after, 5))
    await asyncio.sleep(0)
    n.on_account_data("@carol:x", 7)
    assert await asyncio.wait_for(t, 1)
    after = n.current()
    t = asyncio.create_task(n.wait("@carol:x", [], after, 5))
    await asyncio.sleep(0)
    n.on_to_device(["@carol:x"], 2)
    assert await asyncio.wait_for(t, 1)
    assert n.current() == SyncToken(3, 7, 2)


async def test_update_between_read_and_wait_is_not_lost() -> None:
    n = Notifier()
    token = n.current()
    n.on_room_event(_msg("!a:x", 1))  # lands after the sync took its token
    assert await n.wait("@alice:x", ["!a:x"], token, 5) is True
    # ... but an update for another room does not count
    assert await n.wait("@alice:x", ["!b:x"], token, 0) is False


async def test_memory_is_bounded_and_forgetting_is_safe() -> None:
    n = Notifier(max_keys=100)
    for i in range(1000):
        n.on_room_event(_msg(f"!r{i}:x", i + 1))
    assert n.tracked_keys == 100
    # a forgotten room reports the floor: an early wake-up, never a missed one
    assert await n.wait("@u:x", ["!r0:x"], SyncToken(0, 0, 0), 0) is True
    assert await n.wait("@u:x", ["!r0:x"], n.current(), 0) is False

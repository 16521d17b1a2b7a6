"""Presence on both databases: setting and reading, who may see it, the stream, sync and
activity transitions, the timeouts (with a settable clock), and the switches."""

from __future__ import annotations

import pytest

from ranvier.ephemeral.presence import PresenceService
from ranvier.ephemeral.presence_store import PresenceStore
from ranvier.http.types import MatrixError
from ranvier.rooms.outputs import RoomEventPersisted
from tests.ephemeral.conftest import Ephemeral, Recorder
from tests.rooms.conftest import ALICE, BOB, CAROL, SERVER

REMOTE = "@zed:remote.example"


async def shared_room(eph: Ephemeral) -> str:
    room_id = await eph.rooms.service.create_room(ALICE, preset="public_chat")
    await eph.rooms.membership.join(room_id, BOB)
    return room_id


async def test_set_and_get(eph: Ephemeral) -> None:
    p = eph.presence
    assert await p.get_status(ALICE, ALICE) == {"presence": "offline"}
    await p.set_status(ALICE, "online", "at lunch")
    eph.clock.now += 1500
    assert await p.get_status(ALICE, ALICE) == {
        "presence": "online",
        "last_active_ago": 1500,
        "status_msg": "at lunch",
        "currently_active": True,
    }
    # An absent status_msg clears it; unavailable keeps the last active time.
    await p.set_status(ALICE, "unavailable")
    assert await p.get_status(ALICE, ALICE) == {"presence": "unavailable", "last_active_ago": 1500}
    # Persisted: a new service over the same database reads it.
    fresh = PresenceService(PresenceStore(eph.rooms.db), eph.rooms.service, SERVER, clock=eph.clock)
    assert (await fresh.get_status(ALICE, ALICE))["presence"] == "unavailable"
    for bad_state, bad_msg in (("away", None), (5, None), ("online", 7)):
        with pytest.raises(MatrixError) as exc:
            await p.set_status(ALICE, bad_state, bad_msg)
        assert (exc.value.status, exc.value.errcode) == (400, "M_INVALID_PARAM")


async def test_only_users_sharing_a_room_may_read(eph: Ephemeral) -> None:
    await shared_room(eph)
    await eph.presence.set_status(ALICE, "online")
    assert (await eph.presence.get_status(BOB, ALICE))["presence"] == "online"
    with pytest.raises(MatrixError) as exc:
        await eph.presence.get_status(CAROL, ALICE)
    assert (exc.value.status, exc.value.errcode) == (403, "M_FORBIDDEN")


async def test_stream_reaches_co_members_and_wakes_their_rooms(eph: Ephemeral) -> None:
    room_id = await shared_room(eph)
    rec = Recorder()
    eph.presence.listeners.add(rec)
    start = await eph.presence.current_position()
    await eph.presence.set_status(ALICE, "online", "hi")
    await eph.presence.set_status(CAROL, "online")  # shares no room with Bob
    pos = await eph.presence.current_position()
    assert pos == start + 2
    assert rec.calls == [(start + 1, [room_id], [ALICE]), (start + 2, [], [CAROL])]

    seen = await eph.presence.changes_since(BOB, [room_id], 0, pos)
    assert seen == [
        {
            "type": "m.presence",
            "sender": ALICE,
            "content": {
                "presence": "online",
                "last_active_ago": 0,
                "status_msg": "hi",
                "currently_active": True,
            },
        }
    ]
    own = await eph.presence.changes_since(CAROL, [], 0, pos)
    assert [e["sender"] for e in own] == [CAROL]
    assert await eph.presence.changes_since(BOB, [room_id], pos, pos) == []
    await eph.presence.set_status(ALICE, "unavailable")
    later = await eph.presence.current_position()
    delta = await eph.presence.changes_since(BOB, [room_id], pos, later)
    assert [(e["sender"], e["content"]["presence"]) for e in delta] == [(ALICE, "unavailable")]


async def test_sync_brings_offline_users_online_without_counting_as_activity(
    eph: Ephemeral,
) -> None:
    p = eph.presence
    async with p.user_syncing(ALICE, "offline"):
        assert (await p.get_status(ALICE, ALICE))["presence"] == "offline"
    async with p.user_syncing(BOB, "unavailable"):
        assert (await p.get_status(BOB, BOB))["presence"] == "unavailable"
    async with p.user_syncing(ALICE):
        assert (await p.get_status(ALICE, ALICE))["presence"] == "online"
    await p.set_status(ALICE, "unavailable")
    pos = await p.current_position()
    async with p.user_syncing(ALICE, "online"):  # not offline: left as set
        pass
    assert (await p.get_status(ALICE, ALICE))["presence"] == "unavailable"
    assert await p.current_position() == pos


async def test_activity_and_timeouts(eph: Ephemeral) -> None:
    p, clock = eph.presence, eph.clock
    await p.bump_active(ALICE)
    pos = await p.current_position()
    clock.now += 300
    await p.bump_active(ALICE)  # already online and active: memory only
    assert await p.current_position() == pos
    assert (await p.get_status(ALICE, ALICE))["last_active_ago"] == 0

    async with p.user_syncing(ALICE):
        clock.now += 1_100  # past active_ms (1 s)
        assert await p.sweep() == 1
        status = await p.get_status(ALICE, ALICE)
        assert status["presence"] == "online" and status["currently_active"] is False
        clock.now += 4_000  # past idle_ms (5 s) since the last activity
        assert await p.sweep() == 1
        assert (await p.get_status(ALICE, ALICE))["presence"] == "unavailable"
        clock.now += 10_000  # syncing: never offline
        assert await p.sweep() == 0
    # The sync ended now; sync_timeout_ms (2 s) later the user is offline.
    clock.now += 1_000
    assert await p.sweep() == 0
    clock.now += 1_500
    assert await p.sweep() == 1
    status = await p.get_status(ALICE, ALICE)
    assert status["presence"] == "offline"
    # Activity comes back online at once.
    await p.bump_active(ALICE)
    assert (await p.get_status(ALICE, ALICE))["currently_active"] is True


async def test_sent_events_count_as_activity(eph: Ephemeral) -> None:
    room_id = await shared_room(eph)
    msg = RoomEventPersisted(room_id, "$x", 1, "10", "m.room.message", None, BOB, None, {})
    await eph.presence.on_room_event(msg)
    assert (await eph.presence.get_status(BOB, BOB))["presence"] == "online"
    remote = RoomEventPersisted(room_id, "$y", 2, "10", "m.room.message", None, REMOTE, None, {})
    pos = await eph.presence.current_position()
    await eph.presence.on_room_event(remote)
    assert await eph.presence.current_position() == pos


async def test_start_reloads_users_not_offline(eph: Ephemeral) -> None:
    await eph.presence.set_status(ALICE, "online")
    await eph.presence.set_status(BOB, "offline")
    fresh = PresenceService(
        PresenceStore(eph.rooms.db),
        eph.rooms.service,
        SERVER,
        sync_timeout_ms=2_000,
        sweep_interval_s=3600,
        clock=eph.clock,
    )
    await fresh.start()
    try:
        eph.clock.now += 3_000
        assert await fresh.sweep() == 1  # Alice, who stopped syncing, goes offline
        assert (await fresh.get_status(ALICE, ALICE))["presence"] == "offline"
    finally:
        await fresh.stop()


async def test_disabled_presence_is_ignored(eph: Ephemeral) -> None:
    off = PresenceService(
        PresenceStore(eph.rooms.db), eph.rooms.service, SERVER, enabled=False, clock=eph.clock
    )
    await off.set_status(ALICE, "online", "x")
    async with off.user_syncing(ALICE):
        pass
    await off.bump_active(ALICE)
    assert await off.get_status(ALICE, ALICE) == {"presence": "offline"}
    assert await off.current_position() == 0
    assert await off.changes_since(ALICE, [], 0, 10) == []


async def test_remote_updates_need_enable_inbound(eph: Ephemeral) -> None:
    content = {"presence": "online", "last_active_ago": 500, "status_msg": "far"}
    assert not await eph.presence.on_remote_presence(REMOTE, content)  # inbound off
    assert await eph.presence.current_position() == 0
    inbound = PresenceService(
        PresenceStore(eph.rooms.db), eph.rooms.service, SERVER, inbound=True, clock=eph.clock
    )
    assert not await inbound.on_remote_presence(ALICE, content)  # never for local users
    assert not await inbound.on_remote_presence(REMOTE, {"presence": "bogus"})
    assert await inbound.on_remote_presence(REMOTE, content)
    assert await inbound.get_status(REMOTE, REMOTE) == {
        "presence": "online",
        "last_active_ago": 500,
        "status_msg": "far",
        "currently_active": False,
    }

"""A real client library over /sync: two matrix-nio clients share a room."""

from __future__ import annotations

import asyncio

import nio

from tests.api.conftest import Client


async def test_nio_clients_chat_through_sync(client: Client) -> None:
    alice = nio.AsyncClient(client.base, "alice")
    bob = nio.AsyncClient(client.base, "bob")
    try:
        assert isinstance(await alice.register("alice", "pw-alice"), nio.RegisterResponse)
        assert isinstance(await bob.register("bob", "pw-bob"), nio.RegisterResponse)
        created = await alice.room_create(name="nio room", invite=[bob.user_id])
        assert isinstance(created, nio.RoomCreateResponse), created
        room_id = created.room_id
        sent = await alice.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": "hello bob"}
        )
        assert isinstance(sent, nio.RoomSendResponse), sent

        first = await bob.sync(timeout=0)
        assert isinstance(first, nio.SyncResponse), first
        assert room_id in first.rooms.invite
        assert room_id in bob.invited_rooms
        joined = await bob.join(room_id)
        assert isinstance(joined, nio.JoinResponse), joined

        synced = await bob.sync(timeout=3000)
        assert isinstance(synced, nio.SyncResponse), synced
        timeline = synced.rooms.join[room_id].timeline
        bodies = [e.body for e in timeline.events if isinstance(e, nio.RoomMessageText)]
        assert bodies == ["hello bob"]
        assert bob.rooms[room_id].display_name == "nio room"
        assert set(bob.rooms[room_id].users) == {alice.user_id, bob.user_id}

        # bob long-polls; alice's reply wakes him
        await alice.sync(timeout=0)
        poll = asyncio.create_task(bob.sync(timeout=10_000))
        await asyncio.sleep(0.1)
        await alice.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": "again"})
        woke = await asyncio.wait_for(poll, 5)
        assert isinstance(woke, nio.SyncResponse)
        events = woke.rooms.join[room_id].timeline.events
        assert [e.body for e in events if isinstance(e, nio.RoomMessageText)] == ["again"]

        # alice sees bob's join and her own message with its transaction id
        got = await alice.sync(timeout=0, full_state=True)
        assert isinstance(got, nio.SyncResponse)
        assert bob.user_id in alice.rooms[room_id].users
    finally:
        await alice.close()
        await bob.close()

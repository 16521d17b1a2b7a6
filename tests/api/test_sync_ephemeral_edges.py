"""Edges of the ephemeral sync sections over HTTP: the "stopped typing" list reaches an
initial sync, and a newly joined room brings its members' presence into the next
incremental sync (client-server-api "Typing Notifications", "Presence")."""

from __future__ import annotations

from tests.api.conftest import Client
from tests.api.sync_helpers import V3, create_room, join, register, sync


def _room_ephemeral(body: dict, room_id: str) -> list[dict]:
    room = body["rooms"]["join"].get(room_id, {})
    return list(room.get("ephemeral", {}).get("events", []))


async def test_initial_sync_sees_that_typing_stopped(client: Client) -> None:
    alice, a = await register(client, "alice")
    _, b = await register(client, "bob")
    room = await create_room(client, a, preset="public_chat")
    await join(client, b, room)
    for typing in (True, False):
        status, _ = await client.request(
            "PUT",
            f"{V3}/rooms/{room}/typing/{alice}",
            {"typing": typing, "timeout": 30000},
            token=a,
        )
        assert status == 200
    body = await sync(client, b)
    assert {"type": "m.typing", "content": {"user_ids": []}} in _room_ephemeral(body, room)


async def test_newly_joined_room_brings_members_presence(client: Client) -> None:
    alice, a = await register(client, "alice")
    bob, b = await register(client, "bob")
    status, _ = await client.request(
        "PUT",
        f"{V3}/presence/{alice}/status",
        {"presence": "online", "status_msg": "hi"},
        token=a,
    )
    assert status == 200
    room = await create_room(client, a, preset="public_chat")
    first = await sync(client, b)
    assert [e for e in first["presence"]["events"] if e["sender"] == alice] == []
    await join(client, b, room)
    body = await sync(client, b, since=first["next_batch"])
    others = [e for e in body["presence"]["events"] if e["sender"] != bob]
    assert len(others) == 1 and others[0]["sender"] == alice
    assert others[0]["content"]["presence"] == "online"
    assert others[0]["content"]["status_msg"] == "hi"
    # Only once: the next sync has nothing new about alice.
    again = await sync(client, b, since=body["next_batch"])
    assert [e for e in again["presence"]["events"] if e["sender"] == alice] == []


async def test_joining_is_not_activity_but_syncing_brings_a_user_online(client: Client) -> None:
    _, a = await register(client, "alice")
    bob, b = await register(client, "bob")
    room = await create_room(client, a, preset="public_chat")
    await join(client, b, room)
    first = await sync(client, a)
    seen = [e for e in first["presence"]["events"] if e["sender"] == bob]
    assert all(e["content"]["presence"] == "offline" for e in seen)
    await sync(client, b)  # set_presence defaults to online
    body = await sync(client, a, since=first["next_batch"])
    [update] = [e for e in body["presence"]["events"] if e["sender"] == bob]
    assert update["content"]["presence"] == "online"


async def test_members_see_the_presence_of_a_new_member_once(client: Client) -> None:
    alice, a = await register(client, "alice")
    bob, b = await register(client, "bob")
    room = await create_room(client, a, preset="public_chat")
    first = await sync(client, a)
    await join(client, b, room)  # bob never synced: his presence was never set
    body = await sync(client, a, since=first["next_batch"])
    others = [e for e in body["presence"]["events"] if e["sender"] != alice]
    assert (
        others == [{"type": "m.presence", "sender": bob, "content": others[0]["content"]}]
        and others[0]["content"]["presence"] == "offline"
    )
    # A message from alice (no membership change) brings no presence of bob again.
    status, _ = await client.request(
        "PUT",
        f"{V3}/rooms/{room}/send/m.room.message/t1",
        {"body": "x", "msgtype": "m.text"},
        token=a,
    )
    assert status == 200
    again = await sync(client, a, since=body["next_batch"])
    assert [e for e in again["presence"]["events"] if e["sender"] == bob] == []

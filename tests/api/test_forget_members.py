"""Forgetting rooms and ``GET /members`` with ``at`` and filters, over HTTP on SQLite and
PostgreSQL (client-server-api "Leaving rooms", members.yaml)."""

from __future__ import annotations

from ranvier.rooms.forgotten import ForgottenStore
from ranvier.sync.tokens import SyncToken, pagination_token
from tests.api.test_directory_fixtures import V3, Hs, hs  # noqa: F401


async def position(h: Hs) -> int:
    return await h.server.room_storage.events.stream_position()


async def members(h: Hs, token: str, room: str, query: str = "") -> list[tuple[str, str]]:
    body = await h.ok("GET", f"{V3}/rooms/{room}/members{query}", token=token)
    return [(e["state_key"], e["content"]["membership"]) for e in body["chunk"]]


async def test_forget(hs: Hs) -> None:  # noqa: F811
    _, a = await hs.user("alice")
    bob, b = await hs.user("bob")
    room = await hs.create_room(a, preset="public_chat", name="old name")
    forgotten = ForgottenStore(hs.server.db)
    info = await hs.server.room_storage.events.get_room(room)
    assert info is not None

    await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=b)
    assert await hs.err("POST", f"{V3}/rooms/{room}/forget", {}, token=b) == (400, "M_UNKNOWN")
    await hs.ok("POST", f"{V3}/rooms/{room}/leave", {}, token=b)
    await hs.put_state(a, room, "m.room.name", {"name": "new name"})
    # Left: the state when Bob left is still readable...
    assert (await hs.state(b, room, "m.room.name"))["name"] == "old name"
    await hs.ok("POST", f"{V3}/rooms/{room}/forget", {}, token=b)
    assert await forgotten.is_forgotten(bob, info.nid)
    assert await forgotten.forgotten_room_ids(bob) == {room}
    # ...until he forgets the room.
    status, _ = await hs.request("GET", f"{V3}/rooms/{room}/state/m.room.name", token=b)
    assert status == 403
    status, _ = await hs.request("GET", f"{V3}/rooms/{room}/members", token=b)
    assert status == 403
    # Forgetting again, or a room never joined, is fine.
    await hs.ok("POST", f"{V3}/rooms/{room}/forget", {}, token=b)
    other = await hs.create_room(a)
    await hs.ok("POST", f"{V3}/rooms/{other}/forget", {}, token=b)
    # Re-joining ends it.
    await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=b)
    assert not await forgotten.is_forgotten(bob, info.nid)
    assert await forgotten.forgotten_room_ids(bob) == set()
    assert (await hs.state(b, room, "m.room.name"))["name"] == "new name"
    # Invited users cannot forget; after a ban they can.
    await hs.ok("POST", f"{V3}/rooms/{room}/leave", {}, token=b)
    await hs.ok("POST", f"{V3}/rooms/{room}/invite", {"user_id": bob}, token=a)
    assert await hs.err("POST", f"{V3}/rooms/{room}/forget", {}, token=b) == (400, "M_UNKNOWN")
    await hs.ok("POST", f"{V3}/rooms/{room}/ban", {"user_id": bob}, token=a)
    # Banned is not "left": the room's state is refused (room_state.yaml, as Synapse).
    status, _ = await hs.request("GET", f"{V3}/rooms/{room}/state/m.room.name", token=b)
    assert status == 403
    await hs.ok("POST", f"{V3}/rooms/{room}/forget", {}, token=b)
    assert await forgotten.forgotten_room_ids(bob) == {room}


async def test_members_at_and_filters(hs: Hs) -> None:  # noqa: F811
    alice, a = await hs.user("alice")
    bob, b = await hs.user("bob")
    carol, c = await hs.user("carol")
    room = await hs.create_room(a, preset="public_chat")
    before_bob = pagination_token(await position(hs))
    await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=b)
    after_bob = str(SyncToken(events=await position(hs)))
    await hs.ok("POST", f"{V3}/rooms/{room}/invite", {"user_id": carol}, token=a)

    assert await members(hs, a, room) == [(alice, "join"), (bob, "join"), (carol, "invite")]
    assert await members(hs, a, room, f"?at={before_bob}") == [(alice, "join")]
    assert await members(hs, a, room, f"?at={after_bob}") == [(alice, "join"), (bob, "join")]
    assert await members(hs, a, room, "?at=t0") == []
    assert await hs.err("GET", f"{V3}/rooms/{room}/members?at=bogus", token=a) == (
        400,
        "M_INVALID_PARAM",
    )
    # Filters: each alone, and both together as an "or" (members.yaml).
    assert await members(hs, a, room, "?membership=invite") == [(carol, "invite")]
    assert await members(hs, a, room, "?not_membership=join") == [(carol, "invite")]
    both = "?membership=join&not_membership=invite"
    assert await members(hs, a, room, both) == [(alice, "join"), (bob, "join")]
    both = "?membership=invite&not_membership=join"
    assert await members(hs, a, room, both) == [(carol, "invite")]
    both = "?membership=join&not_membership=ban"
    assert await members(hs, a, room, both) == [
        (alice, "join"),
        (bob, "join"),
        (carol, "invite"),
    ]

    # Bob leaves; later changes are not his to see, whatever ``at`` says.
    await hs.ok("POST", f"{V3}/rooms/{room}/leave", {}, token=b)
    await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=c)
    now = pagination_token(await position(hs))
    expected = [(alice, "join"), (bob, "leave"), (carol, "invite")]
    assert await members(hs, b, room) == expected
    assert await members(hs, b, room, f"?at={now}") == expected
    assert await members(hs, b, room, f"?at={after_bob}") == [(alice, "join"), (bob, "join")]
    assert await members(hs, a, room, f"?at={now}") == [
        (alice, "join"),
        (bob, "leave"),
        (carol, "join"),
    ]

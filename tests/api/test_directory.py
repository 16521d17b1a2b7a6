"""The published room directory over HTTP on SQLite and PostgreSQL: visibility, who may
change it, ``/publicRooms`` entries, order, filters and paging both ways."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import SERVER_NAME
from tests.api.test_directory_fixtures import V3, Hs, hs  # noqa: F401


async def test_visibility(hs: Hs) -> None:  # noqa: F811
    _, a = await hs.user("alice")
    bob, b = await hs.user("bob")
    room = await hs.create_room(a, preset="public_chat")
    listing = f"{V3}/directory/list/room/{room}"
    status, body = await hs.request("GET", listing)  # no token needed
    assert (status, body) == (200, {"visibility": "private"})
    assert await hs.err("GET", f"{V3}/directory/list/room/!nope:{SERVER_NAME}") == (
        404,
        "M_NOT_FOUND",
    )
    # Bob, not in the room, may not publish it; Alice may.
    assert await hs.err("PUT", listing, {"visibility": "public"}, token=b) == (403, "M_FORBIDDEN")
    await hs.ok("PUT", listing, {"visibility": "public"}, token=a)
    assert (await hs.ok("GET", listing, token=b))["visibility"] == "public"
    assert await hs.err("PUT", listing, {"visibility": "bogus"}, token=a) == (
        400,
        "M_INVALID_PARAM",
    )
    # Joined but without power: still refused; a server admin may.
    await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=b)
    assert await hs.err("PUT", listing, {"visibility": "private"}, token=b) == (403, "M_FORBIDDEN")
    await hs.server.accounts.accounts.set_admin(bob, True)
    await hs.ok("PUT", listing, {"visibility": "private"}, token=b)
    assert (await hs.ok("GET", listing, token=a))["visibility"] == "private"
    # createRoom with visibility=public publishes.
    pub = await hs.create_room(a, visibility="public")
    assert (await hs.ok("GET", f"{V3}/directory/list/room/{pub}", token=a))["visibility"] == (
        "public"
    )


async def test_public_rooms_entries(hs: Hs) -> None:  # noqa: F811
    _, a = await hs.user("alice")
    _, b = await hs.user("bob")
    room = await hs.create_room(
        a,
        visibility="public",
        name="Cheese",
        topic="Tasty cheese",
        room_alias_name="cheese",
        initial_state=[
            {"type": "m.room.avatar", "content": {"url": "mxc://test.local/abc"}},
            {
                "type": "m.room.history_visibility",
                "content": {"history_visibility": "world_readable"},
            },
            {"type": "m.room.guest_access", "content": {"guest_access": "can_join"}},
        ],
    )
    space = await hs.create_room(
        a, visibility="public", name="Space", creation_content={"type": "m.space"}
    )
    await hs.create_room(a, name="Private")  # not published
    await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=b)

    status, body = await hs.request("GET", f"{V3}/publicRooms")  # no token needed
    assert status == 200
    assert body["total_room_count_estimate"] == 2
    assert "next_batch" not in body and "prev_batch" not in body
    assert body["chunk"] == [
        {
            "room_id": room,
            "num_joined_members": 2,
            "name": "Cheese",
            "topic": "Tasty cheese",
            "avatar_url": "mxc://test.local/abc",
            "canonical_alias": f"#cheese:{SERVER_NAME}",
            "world_readable": True,
            "guest_can_join": True,
            "join_rule": "public",
        },
        {
            "room_id": space,
            "num_joined_members": 1,
            "name": "Space",
            "world_readable": False,
            "guest_can_join": False,
            "join_rule": "public",
            "room_type": "m.space",
        },
    ]

    async def post(body: dict[str, Any]) -> list[str]:
        out = await hs.ok("POST", f"{V3}/publicRooms", body, token=a)
        return [c["room_id"] for c in out["chunk"]]

    assert await post({"filter": {"generic_search_term": "CHEESE"}}) == [room]
    assert await post({"filter": {"generic_search_term": "tasty"}}) == [room]
    assert await post({"filter": {"generic_search_term": "nothing"}}) == []
    assert await post({"filter": {"room_types": ["m.space"]}}) == [space]
    assert await post({"filter": {"room_types": [None]}}) == [room]
    assert await post({"filter": {"room_types": [None, "m.space"]}}) == [room, space]
    assert await post({"third_party_instance_id": "irc"}) == []
    assert await post({"include_all_networks": True}) == [room, space]
    status, _ = await hs.request("POST", f"{V3}/publicRooms", {})
    assert status == 401  # POST needs a token
    assert await hs.err("GET", f"{V3}/publicRooms?server=elsewhere.example", token=a) == (
        404,
        "M_NOT_FOUND",
    )
    local = await hs.ok("GET", f"{V3}/publicRooms?server={SERVER_NAME}", token=a)
    assert len(local["chunk"]) == 2


async def test_public_rooms_paging(hs: Hs) -> None:  # noqa: F811
    _, a = await hs.user("alice")
    tokens = [(await hs.user(f"u{i}"))[1] for i in range(4)]
    rooms = [await hs.create_room(a, visibility="public", name=f"r{i}") for i in range(5)]
    # Room i gets i extra members, so the expected order is rooms[4] .. rooms[0].
    for i, room in enumerate(rooms):
        for token in tokens[:i]:
            await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=token)
    expected = list(reversed(rooms))

    seen: list[str] = []
    since = None
    pages = 0
    while True:
        query = "limit=2" + (f"&since={since}" if since else "")
        body = await hs.ok("GET", f"{V3}/publicRooms?{query}", token=a)
        pages += 1
        assert len(body["chunk"]) <= 2
        assert ("prev_batch" in body) == bool(seen)
        seen += [c["room_id"] for c in body["chunk"]]
        last_page = body
        since = body.get("next_batch")
        if since is None:
            break
    assert (seen, pages) == (expected, 3)
    counts = [
        c["num_joined_members"] for c in (await hs.ok("GET", f"{V3}/publicRooms", token=a))["chunk"]
    ]
    assert counts == [5, 4, 3, 2, 1]

    # Backwards from the last page (one room): the two rooms before it.
    assert [c["room_id"] for c in last_page["chunk"]] == expected[4:]
    before = {"limit": 2, "since": last_page["prev_batch"]}
    back = await hs.ok("POST", f"{V3}/publicRooms", before, token=a)
    assert [c["room_id"] for c in back["chunk"]] == expected[2:4]
    assert back["next_batch"] and back["prev_batch"]
    body = await hs.ok("GET", f"{V3}/publicRooms?limit=2", token=a)
    second = await hs.ok("GET", f"{V3}/publicRooms?limit=2&since={body['next_batch']}", token=a)
    back = await hs.ok("GET", f"{V3}/publicRooms?limit=2&since={second['prev_batch']}", token=a)
    assert [c["room_id"] for c in back["chunk"]] == expected[:2]
    assert "prev_batch" not in back and back["next_batch"]
    assert await hs.err("GET", f"{V3}/publicRooms?since=garbage", token=a) == (
        400,
        "M_INVALID_PARAM",
    )

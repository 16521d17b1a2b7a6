"""The space hierarchy over HTTP on SQLite and PostgreSQL (client-server-api "Spaces",
space_hierarchy.yaml)."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import SERVER_NAME
from tests.api.test_directory_fixtures import V1, V3, Hs, hs  # noqa: F401

SPACE = {"type": "m.space"}


async def link(h: Hs, token: str, space: str, child: str, **extra: Any) -> None:
    content = {"via": [SERVER_NAME], **extra}
    status, body = await h.put_state(token, space, "m.space.child", content, state_key=child)
    assert status == 200, body


async def walk(h: Hs, token: str, root: str, query: str = "") -> list[str]:
    body = await h.ok("GET", f"{V1}/rooms/{root}/hierarchy{query}", token=token)
    return [r["room_id"] for r in body["rooms"]]


async def test_hierarchy(hs: Hs) -> None:  # noqa: F811
    _, a = await hs.user("alice")
    _, b = await hs.user("bob")
    space = await hs.create_room(a, preset="public_chat", name="Top", creation_content=SPACE)
    sub = await hs.create_room(a, preset="public_chat", creation_content=SPACE)
    public = await hs.create_room(a, preset="public_chat", name="Public")
    private = await hs.create_room(a, name="Private")
    deep = await hs.create_room(a, preset="public_chat")
    unlinked = await hs.create_room(a, preset="public_chat")
    # Order: valid "order" keys first (by code point), then by timestamp.
    await link(hs, a, space, private)
    await link(hs, a, space, sub, order="b")
    await link(hs, a, space, public, order="a", suggested=True)
    status, _ = await hs.put_state(a, space, "m.space.child", {}, state_key=unlinked)  # no via
    assert status == 200
    await link(hs, a, sub, deep)
    await link(hs, a, sub, space)  # a loop

    # Alice sees everything; the walk is depth first in the spec's child order.
    assert await walk(hs, a, space) == [space, public, sub, deep, private]
    # Bob is not invited to the private room.
    assert await walk(hs, b, space) == [space, public, sub, deep]
    body = await hs.ok("GET", f"{V1}/rooms/{space}/hierarchy", token=b)
    top = body["rooms"][0]
    assert top["name"] == "Top" and top["room_type"] == "m.space"
    assert top["num_joined_members"] == 1 and top["join_rule"] == "public"
    assert top["room_version"] == "12" and top["world_readable"] is False
    children = top["children_state"]
    assert [c["state_key"] for c in children] == [public, sub, private]
    assert all(c["type"] == "m.space.child" and c["origin_server_ts"] > 0 for c in children)
    assert children[0]["content"] == {"via": [SERVER_NAME], "order": "a", "suggested": True}
    assert body["rooms"][1]["children_state"] == []  # not a space
    assert "next_batch" not in body

    assert await walk(hs, a, space, "?max_depth=1") == [space, public, sub, private]
    assert await walk(hs, a, space, "?max_depth=0") == [space]
    assert await walk(hs, a, space, "?suggested_only=true") == [space, public]

    # Paging: two rooms at a time gives the same walk.
    seen: list[str] = []
    token = None
    while True:
        query = "?limit=2" + (f"&from={token}" if token else "")
        body = await hs.ok("GET", f"{V1}/rooms/{space}/hierarchy{query}", token=a)
        assert len(body["rooms"]) <= 2
        seen += [r["room_id"] for r in body["rooms"]]
        token = body.get("next_batch")
        if token is None:
            break
        changed = f"?limit=2&from={token}&max_depth=1"
        assert await hs.err("GET", f"{V1}/rooms/{space}/hierarchy{changed}", token=a) == (
            400,
            "M_INVALID_PARAM",
        )
    assert seen == [space, public, sub, deep, private]


async def test_hierarchy_access(hs: Hs) -> None:  # noqa: F811
    alice, a = await hs.user("alice")
    bob, b = await hs.user("bob")
    private_space = await hs.create_room(a, creation_content=SPACE)
    assert await hs.err("GET", f"{V1}/rooms/{private_space}/hierarchy", token=b) == (
        403,
        "M_FORBIDDEN",
    )
    assert await hs.err("GET", f"{V1}/rooms/!nope:{SERVER_NAME}/hierarchy", token=b) == (
        403,
        "M_FORBIDDEN",
    )
    # Invited: visible.
    await hs.ok("POST", f"{V3}/rooms/{private_space}/invite", {"user_id": bob}, token=a)
    assert await walk(hs, b, private_space) == [private_space]
    # Restricted children are visible to those who meet the condition; knock rooms always.
    restricted = await hs.create_room(
        a,
        room_version="10",
        initial_state=[
            {
                "type": "m.room.join_rules",
                "content": {
                    "join_rule": "restricted",
                    "allow": [{"type": "m.room_membership", "room_id": private_space}],
                },
            }
        ],
    )
    knock = await hs.create_room(
        a, initial_state=[{"type": "m.room.join_rules", "content": {"join_rule": "knock"}}]
    )
    readable = await hs.create_room(
        a,
        initial_state=[
            {
                "type": "m.room.history_visibility",
                "content": {"history_visibility": "world_readable"},
            }
        ],
    )
    for child in (restricted, knock, readable):
        await link(hs, a, private_space, child)
    assert set(await walk(hs, b, private_space)) == {private_space, knock, readable}
    await hs.ok("POST", f"{V3}/rooms/{private_space}/join", {}, token=b)
    assert set(await walk(hs, b, private_space)) == {private_space, restricted, knock, readable}
    for bad in ("?limit=0", "?max_depth=-1", "?suggested_only=yes", "?from=%21%21"):
        assert await hs.err("GET", f"{V1}/rooms/{private_space}/hierarchy{bad}", token=b) == (
            400,
            "M_INVALID_PARAM",
        ), bad
    assert alice

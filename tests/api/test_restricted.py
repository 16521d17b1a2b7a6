"""Restricted joins for local users over HTTP on SQLite and PostgreSQL (client-server-api
"Restricted rooms"; rooms/v8 and v10 auth rules)."""

from __future__ import annotations

from typing import Any

from tests.api.test_directory_fixtures import V3, Hs, hs  # noqa: F401


def restricted(rule: str, *room_ids: str) -> list[dict[str, Any]]:
    allow = [{"type": "m.room_membership", "room_id": r} for r in room_ids]
    return [{"type": "m.room.join_rules", "content": {"join_rule": rule, "allow": allow}}]


async def test_restricted_join(hs: Hs) -> None:  # noqa: F811
    alice, a = await hs.user("alice")
    bob, b = await hs.user("bob")
    carol, c = await hs.user("carol")
    space = await hs.create_room(a, preset="public_chat", creation_content={"type": "m.space"})
    other = await hs.create_room(a, preset="public_chat")
    room = await hs.create_room(a, room_version="10", initial_state=restricted("restricted", space))

    # Bob is in no allowed room: refused.
    assert await hs.err("POST", f"{V3}/rooms/{room}/join", {}, token=b) == (403, "M_FORBIDDEN")
    # Being in a room that is not listed does not help.
    await hs.ok("POST", f"{V3}/rooms/{other}/join", {}, token=b)
    assert await hs.err("POST", f"{V3}/rooms/{room}/join", {}, token=b) == (403, "M_FORBIDDEN")
    # Joined to the space: allowed, authorised by Alice (the only local user with invite
    # power), and the join event names her.
    await hs.ok("POST", f"{V3}/rooms/{space}/join", {}, token=b)
    await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=b)
    member = await hs.state(a, room, "m.room.member", bob)
    assert member["membership"] == "join"
    assert member["join_authorised_via_users_server"] == alice
    # Leaving the space later does not matter: the condition is checked at join time.
    await hs.ok("POST", f"{V3}/rooms/{space}/leave", {}, token=b)
    status, _ = await hs.request(
        "PUT", f"{V3}/rooms/{room}/send/m.room.message/t1", {"body": "hi"}, token=b
    )
    assert status == 200

    # An invited user joins without conditions and without an authorising user.
    await hs.ok("POST", f"{V3}/rooms/{room}/invite", {"user_id": carol}, token=a)
    await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=c)
    member = await hs.state(a, room, "m.room.member", carol)
    assert member["membership"] == "join"
    assert "join_authorised_via_users_server" not in member


async def test_restricted_versions_and_knock_restricted(hs: Hs) -> None:  # noqa: F811
    _, a = await hs.user("alice")
    _, b = await hs.user("bob")
    space = await hs.create_room(a, preset="public_chat")
    await hs.ok("POST", f"{V3}/rooms/{space}/join", {}, token=b)

    # v7 has no restricted rule: the rule is unknown there, so nobody can join uninvited.
    v7 = await hs.create_room(a, room_version="7", initial_state=restricted("restricted", space))
    assert await hs.err("POST", f"{V3}/rooms/{v7}/join", {}, token=b) == (403, "M_FORBIDDEN")
    v8 = await hs.create_room(a, room_version="8", initial_state=restricted("restricted", space))
    await hs.ok("POST", f"{V3}/rooms/{v8}/join", {}, token=b)
    # knock_restricted from v10: join through the allow rule, or knock.
    kr = restricted("knock_restricted", space)
    v9 = await hs.create_room(a, room_version="9", initial_state=kr)
    assert await hs.err("POST", f"{V3}/rooms/{v9}/join", {}, token=b) == (403, "M_FORBIDDEN")
    v12 = await hs.create_room(a, initial_state=kr)
    await hs.ok("POST", f"{V3}/rooms/{v12}/join", {}, token=b)
    _, c = await hs.user("carol")
    assert await hs.err("POST", f"{V3}/rooms/{v12}/join", {}, token=c) == (403, "M_FORBIDDEN")
    await hs.ok("POST", f"{V3}/knock/{v12}", {}, token=c)


async def test_no_local_authoriser(hs: Hs) -> None:  # noqa: F811
    alice, a = await hs.user("alice")
    _, b = await hs.user("bob")
    space = await hs.create_room(a, preset="public_chat")
    await hs.ok("POST", f"{V3}/rooms/{space}/join", {}, token=b)
    room = await hs.create_room(a, room_version="10", initial_state=restricted("restricted", space))
    # Once Alice, the only user who may invite, has left, nobody can authorise joins.
    await hs.ok("POST", f"{V3}/rooms/{room}/leave", {}, token=a)
    assert await hs.err("POST", f"{V3}/rooms/{room}/join", {}, token=b) == (403, "M_FORBIDDEN")
    assert alice

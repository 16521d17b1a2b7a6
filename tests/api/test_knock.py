"""Knocking over HTTP on SQLite and PostgreSQL (client-server-api "Knocking on rooms"):
who may knock where, accepting (invite) and rejecting (kick) a knock, retracting it."""

from __future__ import annotations

from urllib.parse import quote

from tests.api.conftest import SERVER_NAME
from tests.api.test_directory_fixtures import V3, Hs, hs  # noqa: F401

KNOCK_RULE = [{"type": "m.room.join_rules", "content": {"join_rule": "knock"}}]


async def membership(h: Hs, token: str, room: str, user: str) -> str:
    return str((await h.state(token, room, "m.room.member", user))["membership"])


async def test_knock_accept_and_reject(hs: Hs) -> None:  # noqa: F811
    _, a = await hs.user("alice")
    bob, b = await hs.user("bob")
    carol, c = await hs.user("carol")
    room = await hs.create_room(a, initial_state=KNOCK_RULE, room_alias_name="door")

    body = await hs.ok("POST", f"{V3}/knock/{room}", {"reason": "let me in"}, token=b)
    assert body == {"room_id": room}
    member = await hs.state(a, room, "m.room.member", bob)
    assert member["membership"] == "knock" and member["reason"] == "let me in"
    # Knocking again changes nothing; knocking while knocking is not an error.
    assert (await hs.ok("POST", f"{V3}/knock/{room}", {}, token=b))["room_id"] == room
    knocks = await hs.ok("GET", f"{V3}/rooms/{room}/members?membership=knock", token=a)
    assert [e["state_key"] for e in knocks["chunk"]] == [bob]
    # A knocking user is not joined: cannot send.
    status, _ = await hs.request("PUT", f"{V3}/rooms/{room}/send/m.room.message/t1", {}, token=b)
    assert status == 403

    # Accept: invite, then join.
    await hs.ok("POST", f"{V3}/rooms/{room}/invite", {"user_id": bob}, token=a)
    assert await membership(hs, a, room, bob) == "invite"
    # Invited users cannot knock.
    assert await hs.err("POST", f"{V3}/knock/{room}", {}, token=b) == (403, "M_FORBIDDEN")
    await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=b)
    assert await hs.err("POST", f"{V3}/knock/{room}", {}, token=b) == (403, "M_FORBIDDEN")

    # Carol knocks by alias; Alice rejects by kicking; Carol knocks again and retracts.
    alias = quote(f"#door:{SERVER_NAME}")
    assert (await hs.ok("POST", f"{V3}/knock/{alias}", {}, token=c))["room_id"] == room
    await hs.ok("POST", f"{V3}/rooms/{room}/kick", {"user_id": carol}, token=a)
    assert await membership(hs, a, room, carol) == "leave"
    await hs.ok("POST", f"{V3}/knock/{room}", {}, token=c)
    await hs.ok("POST", f"{V3}/rooms/{room}/leave", {}, token=c)
    assert await membership(hs, a, room, carol) == "leave"
    # Banned users cannot knock.
    await hs.ok("POST", f"{V3}/rooms/{room}/ban", {"user_id": carol}, token=a)
    assert await hs.err("POST", f"{V3}/knock/{room}", {}, token=c) == (403, "M_FORBIDDEN")


async def test_knock_refused(hs: Hs) -> None:  # noqa: F811
    _, a = await hs.user("alice")
    _, b = await hs.user("bob")
    # Not a knock room.
    invite_only = await hs.create_room(a)
    assert await hs.err("POST", f"{V3}/knock/{invite_only}", {}, token=b) == (403, "M_FORBIDDEN")
    public = await hs.create_room(a, preset="public_chat")
    assert await hs.err("POST", f"{V3}/knock/{public}", {}, token=b) == (403, "M_FORBIDDEN")
    # Room versions before 7 have no knocking, even with the knock join rule.
    v6 = await hs.create_room(a, room_version="6", initial_state=KNOCK_RULE)
    assert await hs.err("POST", f"{V3}/knock/{v6}", {}, token=b) == (403, "M_FORBIDDEN")
    v7 = await hs.create_room(a, room_version="7", initial_state=KNOCK_RULE)
    await hs.ok("POST", f"{V3}/knock/{v7}", {}, token=b)
    # knock_restricted exists from v10.
    kr = [{"type": "m.room.join_rules", "content": {"join_rule": "knock_restricted", "allow": []}}]
    v9 = await hs.create_room(a, room_version="9", initial_state=kr)
    assert await hs.err("POST", f"{V3}/knock/{v9}", {}, token=b) == (403, "M_FORBIDDEN")
    v10 = await hs.create_room(a, room_version="10", initial_state=kr)
    await hs.ok("POST", f"{V3}/knock/{v10}", {}, token=b)
    # Unknown rooms and aliases.
    assert await hs.err("POST", f"{V3}/knock/!nope:{SERVER_NAME}", {}, token=b) == (
        404,
        "M_NOT_FOUND",
    )
    assert await hs.err("POST", f"{V3}/knock/{quote(f'#nope:{SERVER_NAME}')}", {}, token=b) == (
        404,
        "M_NOT_FOUND",
    )

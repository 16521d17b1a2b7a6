"""Room aliases over HTTP on SQLite and PostgreSQL (client-server-api "Room aliases"):
create, resolve, delete with its permission rules, list a room's aliases, the
canonical alias checks, and joining by alias."""

from __future__ import annotations

from urllib.parse import quote

from tests.api.conftest import SERVER_NAME
from tests.api.test_directory_fixtures import V3, Hs, hs  # noqa: F401


def alias_path(alias: str) -> str:
    return f"{V3}/directory/room/{quote(alias)}"


async def test_create_resolve_delete(hs: Hs) -> None:  # noqa: F811
    alice, a = await hs.user("alice")
    bob, b = await hs.user("bob")
    room = await hs.create_room(a, preset="public_chat")
    alias = f"#lobby:{SERVER_NAME}"

    assert await hs.ok("PUT", alias_path(alias), {"room_id": room}, token=a) == {}
    # No token needed to resolve (directory.yaml defines no security for GET).
    status, body = await hs.request("GET", alias_path(alias))
    assert status == 200
    assert body == {"room_id": room, "servers": [SERVER_NAME]}
    # Taken: 409 M_UNKNOWN, as the spec's example.
    assert await hs.err("PUT", alias_path(alias), {"room_id": room}, token=a) == (409, "M_UNKNOWN")
    # Syntax and server checks.
    assert await hs.err("PUT", alias_path("lobby"), {"room_id": room}, token=a) == (
        400,
        "M_INVALID_PARAM",
    )
    assert await hs.err("PUT", alias_path("#x:other.example"), {"room_id": room}, token=a) == (
        400,
        "M_INVALID_PARAM",
    )
    assert await hs.err(
        "PUT", alias_path(f"#x:{SERVER_NAME}"), {"room_id": f"!nope:{SERVER_NAME}"}, token=a
    ) == (404, "M_NOT_FOUND")
    # Bob is not in the room: he may not point aliases at it.
    assert await hs.err("PUT", alias_path(f"#b:{SERVER_NAME}"), {"room_id": room}, token=b) == (
        403,
        "M_FORBIDDEN",
    )
    # Unicode aliases work.
    uni = f"#☕️:{SERVER_NAME}"
    await hs.ok("PUT", alias_path(uni), {"room_id": room}, token=a)
    assert (await hs.ok("GET", alias_path(uni), token=a))["room_id"] == room

    # Bob joins: he may not delete Alice's alias (no power), Alice may.
    await hs.ok("POST", f"{V3}/join/{quote(alias)}", {}, token=b)
    assert await hs.err("DELETE", alias_path(alias), token=b) == (403, "M_FORBIDDEN")
    body = await hs.ok("GET", f"{V3}/rooms/{room}/aliases", token=b)
    assert body == {"aliases": sorted([alias, uni])}
    await hs.ok("DELETE", alias_path(alias), token=a)
    assert await hs.err("GET", alias_path(alias), token=a) == (404, "M_NOT_FOUND")
    assert await hs.err("DELETE", alias_path(alias), token=a) == (404, "M_NOT_FOUND")
    assert await hs.err("GET", alias_path("#x:remote.example"), token=a) == (404, "M_NOT_FOUND")
    assert alice != bob


async def test_delete_rights(hs: Hs) -> None:  # noqa: F811
    alice, a = await hs.user("alice")
    bob, b = await hs.user("bob")
    room = await hs.create_room(a, preset="public_chat", room_version="10")
    await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=b)
    # The alias creator may delete it without any power.
    mine = f"#bobs:{SERVER_NAME}"
    await hs.ok("PUT", alias_path(mine), {"room_id": room}, token=b)
    await hs.ok("DELETE", alias_path(mine), token=b)
    # A user with power over m.room.canonical_alias may delete other users' aliases.
    theirs = f"#alices:{SERVER_NAME}"
    await hs.ok("PUT", alias_path(theirs), {"room_id": room}, token=a)
    assert await hs.err("DELETE", alias_path(theirs), token=b) == (403, "M_FORBIDDEN")
    power = await hs.state(a, room, "m.room.power_levels")
    power["users"][bob] = 50
    status, _ = await hs.put_state(a, room, "m.room.power_levels", power)
    assert status == 200
    await hs.ok("DELETE", alias_path(theirs), token=b)
    assert await hs.err("GET", alias_path(theirs), token=a) == (404, "M_NOT_FOUND")
    assert alice


async def test_room_aliases_visibility(hs: Hs) -> None:  # noqa: F811
    _, a = await hs.user("alice")
    _, c = await hs.user("carol")
    room = await hs.create_room(a, room_alias_name="hidden")
    assert await hs.ok("GET", f"{V3}/rooms/{room}/aliases", token=a) == {
        "aliases": [f"#hidden:{SERVER_NAME}"]
    }
    assert await hs.err("GET", f"{V3}/rooms/{room}/aliases", token=c) == (403, "M_FORBIDDEN")
    status, _ = await hs.put_state(
        a, room, "m.room.history_visibility", {"history_visibility": "world_readable"}
    )
    assert status == 200
    assert (await hs.ok("GET", f"{V3}/rooms/{room}/aliases", token=c))["aliases"] == [
        f"#hidden:{SERVER_NAME}"
    ]


async def test_canonical_alias_checks(hs: Hs) -> None:  # noqa: F811
    _, a = await hs.user("alice")
    room = await hs.create_room(a)
    other = await hs.create_room(a)
    mine, elsewhere = f"#mine:{SERVER_NAME}", f"#elsewhere:{SERVER_NAME}"
    await hs.ok("PUT", alias_path(mine), {"room_id": room}, token=a)
    await hs.ok("PUT", alias_path(elsewhere), {"room_id": other}, token=a)

    status, body = await hs.put_state(a, room, "m.room.canonical_alias", {"alias": elsewhere})
    assert (status, body["errcode"]) == (400, "M_BAD_ALIAS")
    status, body = await hs.put_state(
        a, room, "m.room.canonical_alias", {"alias": mine, "alt_aliases": [f"#gone:{SERVER_NAME}"]}
    )
    assert (status, body["errcode"]) == (400, "M_BAD_ALIAS")
    status, body = await hs.put_state(a, room, "m.room.canonical_alias", {"alias": "bad"})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await hs.put_state(a, room, "m.room.canonical_alias", {"alt_aliases": "x"})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, _ = await hs.put_state(
        a, room, "m.room.canonical_alias", {"alias": mine, "alt_aliases": [mine]}
    )
    assert status == 200
    # Empty content clears the canonical alias.
    status, _ = await hs.put_state(a, room, "m.room.canonical_alias", {})
    assert status == 200

    # Deleting the canonical alias removes it from the event.
    status, _ = await hs.put_state(
        a, room, "m.room.canonical_alias", {"alias": mine, "alt_aliases": [mine]}
    )
    assert status == 200
    await hs.ok("DELETE", alias_path(mine), token=a)
    assert await hs.state(a, room, "m.room.canonical_alias") == {"alt_aliases": []}


async def test_join_by_alias(hs: Hs) -> None:  # noqa: F811
    _, a = await hs.user("alice")
    _, b = await hs.user("bob")
    room = await hs.create_room(a, preset="public_chat", room_alias_name="hall")
    body = await hs.ok("POST", f"{V3}/join/{quote(f'#hall:{SERVER_NAME}')}", {}, token=b)
    assert body == {"room_id": room}
    assert await hs.err("POST", f"{V3}/join/{quote(f'#none:{SERVER_NAME}')}", {}, token=b) == (
        404,
        "M_NOT_FOUND",
    )

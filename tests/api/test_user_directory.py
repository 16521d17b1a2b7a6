"""``POST /user_directory/search`` over HTTP, on SQLite and PostgreSQL (client-server-api
"User Directory"): who is found as rooms are joined, left and made public or private,
display name changes, ``search_all_users``, deactivation, rebuilding, bad input."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ranvier.config.schema import DatabaseConfig, UserDirectoryConfig
from ranvier.db.meta import get_meta
from ranvier.server import Homeserver
from ranvier.users.directory import BUILT_META_KEY, UserDirectory
from tests.api.conftest import make_config
from tests.api.test_directory_fixtures import V3, Hs

SEARCH = f"{V3}/user_directory/search"
Factory = Callable[..., Awaitable[Hs]]


@pytest.fixture
async def make_hs(database_url: str, tmp_path: Path) -> AsyncIterator[Factory]:
    """``await make_hs(search_all_users=False)``: a server over a fresh database."""
    servers: list[tuple[Homeserver, aiohttp.ClientSession]] = []

    async def make(search_all_users: bool = False) -> Hs:
        base = make_config(tmp_path)
        config = dataclasses.replace(
            base,
            global_=dataclasses.replace(
                base.global_, database=DatabaseConfig(connection_string=database_url)
            ),
            user_api=dataclasses.replace(
                base.user_api,
                user_directory=UserDirectoryConfig(search_all_users=search_all_users),
            ),
        )
        server = await Homeserver.open(config)
        bound = await server.start(("127.0.0.1", 0))
        session = aiohttp.ClientSession()
        servers.append((server, session))
        return Hs(session, f"http://127.0.0.1:{bound[0][1]}", server)

    yield make
    for server, session in servers:
        await session.close()
        await server.stop(1.0)


async def found(h: Hs, token: str, term: str, **extra: Any) -> list[str]:
    body = await h.ok("POST", SEARCH, {"search_term": term, **extra}, token=token)
    assert isinstance(body["limited"], bool)
    return [r["user_id"] for r in body["results"]]


async def eventually(h: Hs, token: str, term: str, expected: list[str]) -> None:
    """Search until the results are ``expected`` (the index follows the bus)."""
    got: list[str] = []
    for _ in range(100):
        got = await found(h, token, term)
        if got == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"search {term!r}: {got} != {expected}")


async def settle(h: Hs) -> None:
    """Let the bus deliver what is queued (for checks that something stays absent)."""
    await asyncio.sleep(0.3)


async def set_name(h: Hs, token: str, user: str, name: str) -> None:
    await h.ok("PUT", f"{V3}/profile/{user}/displayname", {"displayname": name}, token=token)


async def test_public_room_join_and_leave(make_hs: Factory) -> None:
    h = await make_hs()
    alice, a = await h.user("alice")
    bob, b = await h.user("bob")
    _, c = await h.user("carol")
    await set_name(h, b, bob, "Bobby Tables")
    room = await h.create_room(a, preset="public_chat")
    await settle(h)
    # Bob is in no room: nobody finds him, not even himself.
    assert await found(h, c, "bobby") == []
    assert await found(h, b, "bobby") == []
    await h.ok("POST", f"{V3}/rooms/{room}/join", {}, token=b)
    await eventually(h, c, "bobby", [bob])
    await eventually(h, b, "tables", [bob])
    assert await found(h, c, "@bob:") == [bob]
    assert await found(h, c, "alice") == [alice]
    body = await h.ok("POST", SEARCH, {"search_term": "Bobby"}, token=c)
    assert body == {"results": [{"user_id": bob, "display_name": "Bobby Tables"}], "limited": False}
    await h.ok("POST", f"{V3}/rooms/{room}/leave", {}, token=b)
    await eventually(h, c, "bobby", [])
    assert await found(h, c, "alice") == [alice]
    # The last member leaves: the room is forgotten.
    await h.ok("POST", f"{V3}/rooms/{room}/leave", {}, token=a)
    await eventually(h, c, "alice", [])
    assert await h.server.user_directory.store.tracked_rooms() == []


async def test_private_rooms_and_public_changes(make_hs: Factory) -> None:
    h = await make_hs()
    alice, a = await h.user("alice")
    bob, b = await h.user("bob")
    _, c = await h.user("carol")
    room = await h.create_room(a, preset="private_chat", invite=[bob])
    room2 = await h.create_room(a, preset="private_chat", invite=[bob])
    await h.ok("POST", f"{V3}/rooms/{room}/join", {}, token=b)
    await h.ok("POST", f"{V3}/rooms/{room2}/join", {}, token=b)
    # Sharing a private room: bob finds alice; carol and alice herself do not.
    await eventually(h, b, "alice", [alice])
    assert await found(h, c, "alice") == []
    assert await found(h, a, "alice") == []
    # Bob leaves one room: they still share the other.
    await h.ok("POST", f"{V3}/rooms/{room2}/leave", {}, token=b)
    await settle(h)
    assert await found(h, b, "alice") == [alice]

    # Join rule public: everyone finds the members.
    await h.put_state(a, room, "m.room.join_rules", {"join_rule": "public"})
    await eventually(h, c, "alice", [alice])
    await h.put_state(
        a, room, "m.room.history_visibility", {"history_visibility": "world_readable"}
    )
    await h.put_state(a, room, "m.room.join_rules", {"join_rule": "invite"})
    await settle(h)
    assert await found(h, c, "alice") == [alice]
    await h.put_state(a, room, "m.room.history_visibility", {"history_visibility": "shared"})
    await eventually(h, c, "alice", [])
    assert await found(h, b, "alice") == [alice]
    # Bob leaves the last shared room.
    await h.ok("POST", f"{V3}/rooms/{room}/leave", {}, token=b)
    await eventually(h, b, "alice", [])


async def test_display_name_change_and_ranking(make_hs: Factory) -> None:
    h = await make_hs()
    alice, a = await h.user("alice")
    _, b = await h.user("bob")
    await set_name(h, a, alice, "First Name")
    room = await h.create_room(a, preset="public_chat")
    await h.ok("POST", f"{V3}/rooms/{room}/join", {}, token=b)
    await eventually(h, b, "first", [alice])
    await set_name(h, a, alice, "Other Name")
    await eventually(h, b, "first", [])
    assert await found(h, b, "OTHER nam") == [alice]
    avatar = "mxc://test.local/abc"
    await h.ok("PUT", f"{V3}/profile/{alice}/avatar_url", {"avatar_url": avatar}, token=a)
    body = await h.ok("POST", SEARCH, {"search_term": "other"}, token=b)
    assert body["results"] == [
        {"user_id": alice, "display_name": "Other Name", "avatar_url": avatar}
    ]

    # limit and limited; exact words before prefixes.
    users = [(await h.user(name))[1] for name in ("nam", "namely", "names")]
    for token in users:
        await h.ok("POST", f"{V3}/rooms/{room}/join", {}, token=token)
    await eventually(
        h, b, "nam", ["@nam:test.local", alice, "@namely:test.local", "@names:test.local"]
    )
    body = await h.ok("POST", SEARCH, {"search_term": "nam", "limit": 2}, token=b)
    assert [r["user_id"] for r in body["results"]] == ["@nam:test.local", alice]
    assert body["limited"] is True


async def test_search_all_users_and_deactivation(make_hs: Factory) -> None:
    h = await make_hs(search_all_users=True)
    alice, a = await h.user("alice")
    bob, b = await h.user("bob")
    # No rooms at all: every local account is searchable.
    assert await found(h, a, "bob") == [bob]
    assert await found(h, a, "alice") == [alice]
    await set_name(h, b, bob, "Robert")
    assert await found(h, a, "robert") == [bob]
    room = await h.create_room(a, preset="public_chat")
    await h.ok("POST", f"{V3}/rooms/{room}/join", {}, token=b)
    await eventually(h, a, "robert", [bob])
    await h.server.accounts.deactivate(bob, erase=True)
    assert await found(h, a, "bob") == []
    # Still joined, but not listed again when the room is read afresh.
    await h.server.user_directory.rebuild()
    assert await found(h, a, "bob") == []


async def test_rebuild_from_rooms(make_hs: Factory) -> None:
    h = await make_hs()
    alice, a = await h.user("alice")
    _, b = await h.user("bob")
    room = await h.create_room(a, preset="public_chat")
    await h.ok("POST", f"{V3}/rooms/{room}/join", {}, token=b)
    await eventually(h, b, "alice", [alice])
    db = h.server.db
    for table in ("user_directory", "user_directory_words", "user_directory_rooms"):
        await db.execute(f"DELETE FROM {table}")
    await db.execute("DELETE FROM user_directory_members")
    assert await found(h, b, "alice") == []
    await h.server.user_directory.rebuild()
    assert await found(h, b, "alice") == [alice]

    # Turning search_all_users on lists the accounts that are in no room, once.
    dave, _ = await h.user("dave")
    srv = h.server
    everyone = UserDirectory(
        db, srv.room_storage, srv.profiles.store, srv.rooms.is_local, search_all_users=True
    )
    assert (await everyone.search(alice, "dave"))[0] == []
    assert await get_meta(db, BUILT_META_KEY) == "rooms"
    everyone.start()
    await everyone.wait_built()
    assert [e.user_id for e in (await everyone.search(alice, "dave"))[0]] == [dave]
    assert await get_meta(db, BUILT_META_KEY) == "all"


async def test_bad_input(make_hs: Factory) -> None:
    h = await make_hs()
    _, a = await h.user("alice")
    assert await h.err("POST", SEARCH, {"search_term": "x"}) == (401, "M_MISSING_TOKEN")
    assert await h.err("POST", SEARCH, {}, token=a) == (400, "M_MISSING_PARAM")
    status, guest = await h.request("POST", f"{V3}/register?kind=guest", {})
    assert status == 200, guest
    body = {"search_term": "alice"}
    assert await h.err("POST", SEARCH, body, token=guest["access_token"]) == (
        403,
        "M_GUEST_ACCESS_FORBIDDEN",
    )
    assert await h.err("POST", SEARCH, {"search_term": 5}, token=a) == (400, "M_INVALID_PARAM")
    for limit in ("3", 1.5, True, -1):
        body = {"search_term": "x", "limit": limit}
        assert await h.err("POST", SEARCH, body, token=a) == (400, "M_INVALID_PARAM")
    status, out = await h.request("POST", SEARCH, raw=b"{nope", token=a)
    assert (status, out["errcode"]) == (400, "M_NOT_JSON")
    status, out = await h.request("POST", SEARCH, [1], token=a)
    assert (status, out["errcode"]) == (400, "M_BAD_JSON")
    # Odd terms are simply not found.
    for term in ("", "   ", "\x00", "%", "@", "x" * 10_000, "a b c d e f g h i j k l"):
        assert await found(h, a, term) == []
    body = await h.ok("POST", SEARCH, {"search_term": "al", "limit": 0}, token=a)
    assert body == {"results": [], "limited": False}

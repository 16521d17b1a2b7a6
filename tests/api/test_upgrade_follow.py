"""What follows a room upgrade when local users join the replacement room, over HTTP on
SQLite and PostgreSQL (client-server-api "Room Upgrades": local aliases move, and "the
server should automatically transfer/replicate some of the user's personalized
settings"; ``m.direct``, ``m.tag``; :mod:`ranvier.rooms.upgrade_follow`)."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from tests.api.conftest import SERVER_NAME
from tests.api.test_directory_fixtures import V3, Hs, hs  # noqa: F401


async def settle(h: Hs) -> None:
    """Wait for the follower's background work."""
    await asyncio.sleep(0)
    await h.server.upgrade_follower.drain()


async def test_upgrade_moves_aliases_listing_direct_and_tags(hs: Hs) -> None:  # noqa: F811
    alice, a = await hs.user("alice")
    bob, b = await hs.user("bob")
    old = await hs.create_room(a, preset="public_chat", visibility="public")
    one, two = f"#one:{SERVER_NAME}", f"#two:{SERVER_NAME}"
    for alias in (one, two):
        await hs.ok("PUT", f"{V3}/directory/room/{quote(alias)}", {"room_id": old}, token=a)
    await hs.put_state(a, old, "m.room.canonical_alias", {"alias": one, "alt_aliases": [two]})
    await hs.ok("POST", f"{V3}/rooms/{old}/join", {}, token=b)
    for user, token in ((alice, a), (bob, b)):
        await hs.ok(
            "PUT", f"{V3}/user/{user}/account_data/m.direct", {"@x:y": [old, "!z:y"]}, token=token
        )
    await hs.ok("PUT", f"{V3}/user/{bob}/rooms/{old}/tags/u.work", {"order": 0.5}, token=b)

    body = await hs.ok("POST", f"{V3}/rooms/{old}/upgrade", {"new_version": "11"}, token=a)
    new = body["replacement_room"]
    await settle(hs)
    # The old room's canonical alias names nothing any more (not even an empty list).
    assert await hs.state(a, old, "m.room.canonical_alias") == {}
    assert await hs.state(a, new, "m.room.canonical_alias") == {"alias": one, "alt_aliases": [two]}
    for alias in (one, two):
        found = await hs.ok("GET", f"{V3}/directory/room/{quote(alias)}", token=a)
        assert found["room_id"] == new
    listed = await hs.ok("GET", f"{V3}/publicRooms", token=a)
    assert [r["room_id"] for r in listed["chunk"]] == [new]
    # The upgrading user's m.direct gained the new room at once (they joined it)...
    direct = await hs.ok("GET", f"{V3}/user/{alice}/account_data/m.direct", token=a)
    assert direct == {"@x:y": [old, "!z:y", new]}
    # ...bob's only once he joins it, and his tags come along.
    direct = await hs.ok("GET", f"{V3}/user/{bob}/account_data/m.direct", token=b)
    assert direct == {"@x:y": [old, "!z:y"]}
    await hs.ok("POST", f"{V3}/join/{new}", {}, token=b)
    await settle(hs)
    direct = await hs.ok("GET", f"{V3}/user/{bob}/account_data/m.direct", token=b)
    assert direct == {"@x:y": [old, "!z:y", new]}
    tags = await hs.ok("GET", f"{V3}/user/{bob}/rooms/{new}/tags", token=b)
    assert tags == {"tags": {"u.work": {"order": 0.5}}}


async def test_a_room_naming_a_predecessor_without_its_tombstone_takes_nothing(
    hs: Hs,  # noqa: F811
) -> None:
    alice, a = await hs.user("alice")
    victim = await hs.create_room(a, preset="public_chat", visibility="public")
    alias = f"#mine:{SERVER_NAME}"
    await hs.ok("PUT", f"{V3}/directory/room/{quote(alias)}", {"room_id": victim}, token=a)
    await hs.ok("PUT", f"{V3}/user/{alice}/account_data/m.direct", {"@x:y": [victim]}, token=a)
    mallory, m = await hs.user("mallory")
    fake = await hs.create_room(
        m,
        preset="public_chat",
        room_version="10",
        creation_content={"predecessor": {"room_id": victim, "event_id": "$x"}},
    )
    await hs.ok("POST", f"{V3}/join/{fake}", {}, token=a)
    await settle(hs)
    found = await hs.ok("GET", f"{V3}/directory/room/{quote(alias)}", token=a)
    assert found["room_id"] == victim
    listed = await hs.ok("GET", f"{V3}/publicRooms", token=a)
    assert [r["room_id"] for r in listed["chunk"]] == [victim]
    direct = await hs.ok("GET", f"{V3}/user/{alice}/account_data/m.direct", token=a)
    assert direct == {"@x:y": [victim]}
    assert mallory

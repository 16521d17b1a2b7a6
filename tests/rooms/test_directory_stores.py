"""Alias, forgotten-room and directory pieces on SQLite and PostgreSQL (the ``rooms``
fixture), plus the pure helpers of the directory and summaries."""

from __future__ import annotations

import pytest

from ranvier.http.types import MatrixError
from ranvier.rooms.aliases import AliasStore, AliasTaken, canonical_aliases
from ranvier.rooms.directory import PageKey
from ranvier.rooms.forgotten import ForgottenStore
from ranvier.rooms.summary import plain_topic
from tests.rooms.conftest import ALICE, BOB, SERVER, Rooms


async def test_alias_store_move_and_check(rooms: Rooms) -> None:
    store = rooms.service.aliases
    assert isinstance(store, AliasStore)
    old = await rooms.service.create_room(ALICE, room_alias_name="one")
    await store.create(f"#two:{SERVER}", old, ALICE)
    with pytest.raises(AliasTaken):
        await store.create(f"#two:{SERVER}", old, BOB)
    assert await store.creator_of(f"#two:{SERVER}") == ALICE
    new = await rooms.service.create_room(ALICE)
    assert await store.move(old, new) == [f"#one:{SERVER}", f"#two:{SERVER}"]
    assert await store.aliases_of(old) == []
    assert await store.resolve(f"#one:{SERVER}") == new
    # Canonical alias checks: new aliases must point to the room; known ones are kept.
    await store.check_canonical_alias(new, SERVER, {"alias": f"#one:{SERVER}"}, None)
    with pytest.raises(MatrixError) as err:
        await store.check_canonical_alias(old, SERVER, {"alias": f"#one:{SERVER}"}, None)
    assert err.value.errcode == "M_BAD_ALIAS"
    previous = {"alias": f"#one:{SERVER}"}
    await store.check_canonical_alias(old, SERVER, {"alt_aliases": [f"#one:{SERVER}"]}, previous)
    with pytest.raises(MatrixError) as err:
        await store.check_canonical_alias(old, SERVER, {"alias": "#remote:elsewhere"}, None)
    assert err.value.errcode == "M_BAD_ALIAS"  # remote aliases cannot be verified yet


async def test_forgotten_follows_membership(rooms: Rooms) -> None:
    room_id = await rooms.service.create_room(ALICE, preset="public_chat")
    room = await rooms.service.room(room_id)
    forgotten = ForgottenStore(rooms.db)
    await rooms.membership.join(room_id, BOB)
    with pytest.raises(MatrixError):
        await rooms.membership.forget(room_id, BOB)
    await rooms.membership.leave(room_id, BOB)
    await rooms.membership.forget(room_id, BOB)
    assert await forgotten.is_forgotten(BOB, room.nid)
    assert await forgotten.forgotten_room_ids(BOB) == {room_id}
    assert not await forgotten.is_forgotten(ALICE, room.nid)
    await rooms.membership.join(room_id, BOB)
    assert not await forgotten.is_forgotten(BOB, room.nid)
    await rooms.membership.leave(room_id, BOB)
    assert not await forgotten.is_forgotten(BOB, room.nid)  # left again, not forgotten
    await rooms.membership.forget(room_id, BOB)
    assert await forgotten.forgotten_room_ids(BOB) == {room_id}


def test_page_keys() -> None:
    key = PageKey.parse("n12_!a_b:x")
    assert (key.forward, key.joined, key.room_id) == (True, 12, "!a_b:x")
    assert str(key) == "n12_!a_b:x"
    assert PageKey.parse("p0_!r:x").forward is False
    for bad in ("", "x1_!r", "n_!r", "nab_!r", "n1", "n" + "9" * 13 + "_!r"):
        with pytest.raises(MatrixError):
            PageKey.parse(bad)


def test_plain_topic_and_canonical_aliases() -> None:
    assert plain_topic({"topic": "t"}) == "t"
    rich = {
        "topic": "fallback",
        "m.topic": {
            "m.text": [
                {"body": "<b>x</b>", "mimetype": "text/html"},
                {"body": "plain"},
            ]
        },
    }
    assert plain_topic(rich) == "plain"
    assert plain_topic({"topic": ""}) is None
    assert canonical_aliases({"alias": "#a:x", "alt_aliases": ["#b:x", 3]}) == ["#a:x", "#b:x"]
    assert canonical_aliases(None) == []

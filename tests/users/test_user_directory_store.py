"""The user directory tables (ranvier.users.directory_store), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from ranvier.db.api import Database
from ranvier.users import directory_store
from ranvier.users.directory_store import UserDirectoryStore, split_words, user_words


def test_words() -> None:
    assert split_words("Alice  O'Brien-Smith ALICE") == ["alice", "o", "brien", "smith"]
    assert split_words("Ünïcode ΣΊΣΥΦΟΣ") == ["ünïcode", "σίσυφοσ"]
    words = user_words("@alice.b:example.org", "Queen Alice")
    assert words == {"queen", "alice", "b", "alice.b", "@alice.b:example.org"}
    assert user_words("@x:hs", None) == {"x", "@x:hs"}


async def _ids(store: UserDirectoryStore, requester: str, term: str, limit: int = 10) -> list[str]:
    results, _ = await store.search(requester, term, limit)
    return [r.user_id for r in results]


async def test_visibility_public_and_shared_rooms(database: Database) -> None:
    store = UserDirectoryStore(database)
    for user, name in [
        ("@alice:hs", "Alice Liddell"),
        ("@bob:hs", "Bob"),
        ("@carol:remote", "Carol"),
        ("@dave:hs", None),
    ]:
        await store.set_profile(user, name, None, user.endswith(":hs"))
    # A private room of alice and bob; a public room of carol and dave.
    await store.track_room("!priv:hs", False, [("@alice:hs", True), ("@bob:hs", True)])
    await store.track_room("!pub:hs", True, [("@carol:remote", False), ("@dave:hs", True)])

    assert await _ids(store, "@bob:hs", "alice") == ["@alice:hs"]
    assert await _ids(store, "@bob:hs", "liddell") == ["@alice:hs"]
    # Not sharing a room and not in a public room: not found...
    assert await _ids(store, "@dave:hs", "alice") == []
    # ...and nobody shares a room with themselves.
    assert await _ids(store, "@alice:hs", "alice") == []
    # Members of public rooms are visible to anyone, themselves included.
    assert await _ids(store, "@alice:hs", "carol") == ["@carol:remote"]
    assert await _ids(store, "@dave:hs", "dave") == ["@dave:hs"]
    # With search_all_users, every listed local user.
    results, _ = await store.search("@dave:hs", "alice", 10, search_all_local=True)
    assert [r.user_id for r in results] == ["@alice:hs"]

    # The private room goes public: alice is visible to dave; back private: not.
    await store.set_room_public("!priv:hs", True)
    assert await _ids(store, "@dave:hs", "alice") == ["@alice:hs"]
    await store.set_room_public("!priv:hs", False)
    assert await _ids(store, "@dave:hs", "alice") == []

    # Bob leaves: alice is no longer found by him; alice is still in a room.
    assert await store.remove_member("!priv:hs", "@bob:hs")
    assert not await store.remove_member("!priv:hs", "@bob:hs")
    assert await _ids(store, "@bob:hs", "alice") == []
    assert await store.in_any_room("@alice:hs")
    assert not await store.in_any_room("@bob:hs")
    assert await store.has_local_member("!pub:hs")
    await store.remove_member("!pub:hs", "@dave:hs")
    assert not await store.has_local_member("!pub:hs")
    assert sorted(await store.untrack_room("!pub:hs")) == ["@carol:remote"]
    assert await store.room_public("!pub:hs") is None
    assert await store.room_public("!priv:hs") is False
    assert await store.tracked_rooms() == ["!priv:hs"]


async def test_matching_ranking_and_limit(database: Database) -> None:
    store = UserDirectoryStore(database)
    people = {
        "@al:hs": "Al",
        "@alan:hs": "Alan Turing",
        "@alice:hs": "Alice",
        "@zed:hs": "Al Zed",
        "@noname:hs": None,
        "@albert:remote": "Einstein",
    }
    for user, name in people.items():
        await store.set_profile(user, name, "mxc://hs/a" if user == "@alan:hs" else None, True)
    await store.track_room("!pub:hs", True, [(u, True) for u in people])

    # Exact words first (al, zed's "Al"), then prefixes with a name and avatar first.
    assert await _ids(store, "@x:hs", "AL") == [
        "@al:hs",
        "@zed:hs",
        "@alan:hs",
        "@albert:remote",
        "@alice:hs",
    ]
    # Every word must match; words may match the display name or the localpart.
    assert await _ids(store, "@x:hs", "al tur") == ["@alan:hs"]
    assert await _ids(store, "@x:hs", "albert einst") == ["@albert:remote"]
    assert await _ids(store, "@x:hs", "nonam") == ["@noname:hs"]
    # A whole user id, or a prefix of one.
    assert await _ids(store, "@x:hs", "@albert:remote") == ["@albert:remote"]
    assert await _ids(store, "@x:hs", "@alic") == ["@alice:hs"]
    # Nothing searchable in the term: nothing found.
    assert await _ids(store, "@x:hs", "  !! ") == []
    assert await _ids(store, "@x:hs", "") == []
    # limit and limited.
    results, limited = await store.search("@x:hs", "al", 2)
    assert [r.user_id for r in results] == ["@al:hs", "@zed:hs"] and limited
    results, limited = await store.search("@x:hs", "al", 5)
    assert len(results) == 5 and not limited
    results, limited = await store.search("@x:hs", "al", 0)
    assert results == [] and limited
    entry = (await store.search("@x:hs", "turing", 1))[0][0]
    assert entry.to_json() == {
        "user_id": "@alan:hs",
        "display_name": "Alan Turing",
        "avatar_url": "mxc://hs/a",
    }
    assert (await store.search("@x:hs", "noname", 1))[0][0].to_json() == {"user_id": "@noname:hs"}


async def test_profile_updates_and_removal(database: Database) -> None:
    store = UserDirectoryStore(database)
    await store.set_profile("@u:hs", "First Name", None, True)
    await store.track_room("!r:hs", True, [("@u:hs", True)])
    assert await _ids(store, "@x:hs", "first") == ["@u:hs"]
    await store.set_profile("@u:hs", "Second\x00Name", 7, True)
    assert await store.profile("@u:hs") == ("SecondName", None)
    assert await _ids(store, "@x:hs", "first") == []
    assert await _ids(store, "@x:hs", "secondname") == ["@u:hs"]
    await store.remove_user("@u:hs", memberships=True)
    assert await store.profile("@u:hs") is None
    assert not await store.in_any_room("@u:hs")
    assert await _ids(store, "@x:hs", "u") == []


async def test_candidates_bounded_exact_first(database: Database, monkeypatch: Any) -> None:
    monkeypatch.setattr(directory_store, "MAX_CANDIDATES", 3)
    store = UserDirectoryStore(database)
    users = ["@zz1:hs", "@zz2:hs", "@zz3:hs", "@zz4:hs", "@zz5:hs"]
    names = ["Abe", "Abb", "Aba", "Ab", "Abc"]
    for user, name in zip(users, names, strict=True):
        await store.set_profile(user, name, None, True)
    await store.track_room("!r:hs", True, [(u, True) for u in users])
    # Only the first three words in byte order are read; the exact one is among them.
    results, _ = await store.search("@x:hs", "ab", 10)
    assert [r.display_name for r in results] == ["Ab", "Abb", "Aba"]  # then by user id
    assert [r.display_name for r in (await store.search("@x:hs", "abe", 10))[0]] == ["Abe"]

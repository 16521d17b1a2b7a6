"""NID lookups remember texts that have no NID, until this store assigns one (SQLite and
PostgreSQL): the answer stays what the table holds, with one read per absent text."""

from __future__ import annotations

from typing import Any

from ranvier.db import Database
from ranvier.rooms.nids import NidStore


class CountingDb:
    """``database`` with its reads counted; ``during_read`` runs inside the next read."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.reads = 0
        self.during_read: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)

    async def fetchone(self, sql: str, *args: Any) -> Any:
        self.reads += 1
        row = await self.db.fetchone(sql, *args)
        hook, self.during_read = self.during_read, None
        if hook is not None:
            await hook()
        return row


async def test_absent_text_is_read_once_until_assigned(database: Database) -> None:
    counting = CountingDb(database)
    nids = NidStore(counting)
    assert await nids.types.lookup("m.room.server_acl") is None
    assert await nids.types.lookup("m.room.server_acl") is None
    assert counting.reads == 1
    assert await nids.lookup_key("m.room.server_acl", "") is None
    assert counting.reads == 1
    nid = await nids.types.assign("m.room.server_acl")
    assert await nids.types.lookup("m.room.server_acl") == nid
    fresh = NidStore(database)
    assert await fresh.types.lookup("m.room.server_acl") == nid


async def test_a_negative_read_overtaken_by_an_assignment_is_not_kept(database: Database) -> None:
    counting = CountingDb(database)
    nids = NidStore(counting)
    other = NidStore(counting)
    assigned: list[int] = []

    async def assign_meanwhile() -> None:
        # The same table assigned through this store while the read is in flight.
        assigned.append(await nids.state_keys.assign("@late:example.org"))

    counting.during_read = assign_meanwhile
    assert await nids.state_keys.lookup("@late:example.org") is None  # read before the insert
    assert await nids.state_keys.lookup("@late:example.org") == assigned[0]
    assert await other.state_keys.lookup("@late:example.org") == assigned[0]


async def test_texts_with_nul_are_stored_and_read_back(database: Database) -> None:
    """Event types and state keys may hold U+0000, which PostgreSQL's TEXT refuses: they
    are stored escaped, one-to-one (a text starting with the escape mark is escaped too),
    and read back as they were by a store with empty caches."""
    texts = ["k\x00", "\x00", "\x01k\x00", "\x01", '\x01"k"', "plain", "a\x01b"]
    nids = NidStore(database)
    assigned = {text: await nids.state_keys.assign(text) for text in texts}
    assert len(set(assigned.values())) == len(texts)
    fresh = NidStore(database)
    for text, nid in assigned.items():
        assert await fresh.state_keys.lookup(text) == nid
    assert await NidStore(database).state_keys.texts_of(assigned.values()) == {
        nid: text for text, nid in assigned.items()
    }
    other = NidStore(database)
    assert [await other.state_keys.text_of(assigned[t]) for t in texts] == texts
    # Texts without NUL or a leading mark are stored as they are (SQL compares them).
    row = await database.fetchone(
        "SELECT state_key FROM state_key_nids WHERE state_key_nid = $1", assigned["a\x01b"]
    )
    assert row is not None and row[0] == "a\x01b"

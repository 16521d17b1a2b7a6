"""Numeric ids (NIDs) for event types and state keys.

State storage and the events table refer to ``(type, state_key)`` pairs by two small
integers instead of two strings: a state entry is then three integers (see
:mod:`ranvier.rooms.state_store`). The mapping is global (shared by all rooms) and
append-only, so it is cached without invalidation. A text with no NID is remembered
too (bounded): auth and ACL checks ask for state types most rooms never had (e.g.
``m.room.server_acl``) on every event. This store is the only writer of the two tables,
so a negative answer stays true until :meth:`_NidTable.assign` adds the text, which
forgets it; a negative read overtaken by an assignment is not remembered.

A NID is assigned by ``INSERT ... ON CONFLICT DO NOTHING`` followed by a ``SELECT``, in
its own statement outside any event transaction: an id assigned for an event that is
then rejected or rolled back is harmless (an unused row), while the event's own
transaction stays small. Only committed ids ever enter the cache.

Texts are stored as they are except those holding U+0000, which PostgreSQL's ``TEXT``
cannot hold ("invalid byte sequence") although the spec lets event types and state keys
contain it: these are stored as ``\x01`` followed by their JSON string (NUL escaped as
``\u0000``), and so is any text that itself starts with ``\x01``, which keeps the mapping
one-to-one. Both databases store the same rows, and every other text (and the SQL that
compares these columns with constants such as ``'m.room.member'``) is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from ranvier.db import Database
from ranvier.rooms.lru import LruCache

CACHE_SIZE = 100_000
ABSENT_CACHE_SIZE = 10_000
_ESCAPED = "\x01"
"""Marks a text stored as its JSON string (module docstring)."""


def to_db_text(text: str) -> str:
    """``text`` as stored: unchanged unless it holds NUL or starts with :data:`_ESCAPED`."""
    if "\x00" in text or text.startswith(_ESCAPED):
        return _ESCAPED + orjson.dumps(text).decode()
    return text


def from_db_text(stored: str) -> str:
    """The text :func:`to_db_text` stored as ``stored``."""
    if stored.startswith(_ESCAPED):
        return str(orjson.loads(stored[1:]))
    return stored


class _NidTable:
    """One ``text <-> nid`` table with caches both ways."""

    def __init__(self, db: Database, table: str, nid_col: str, text_col: str) -> None:
        self.db = db
        self._insert = (
            f"INSERT INTO {table} ({text_col}) VALUES ($1) ON CONFLICT ({text_col}) DO NOTHING"
        )
        self._select = f"SELECT {nid_col} FROM {table} WHERE {text_col} = $1"
        self._select_text = f"SELECT {text_col} FROM {table} WHERE {nid_col} = $1"
        self._select_many = f"SELECT {nid_col}, {text_col} FROM {table} WHERE {nid_col} IN "
        self.by_text: LruCache[str, int] = LruCache(CACHE_SIZE)
        self.by_nid: LruCache[int, str] = LruCache(CACHE_SIZE)
        self._absent: LruCache[str, bool] = LruCache(ABSENT_CACHE_SIZE)
        self._assignments = 0
        """Counts the starts and ends of assignments: a negative read during which it
        changed is not remembered."""

    def _remember(self, text: str, nid: int) -> int:
        self.by_text.put(text, nid)
        self.by_nid.put(nid, text)
        self._absent.discard(text)
        return nid

    async def lookup(self, text: str) -> int | None:
        """The NID of ``text`` if it has one (never creates)."""
        nid = self.by_text.get(text)
        if nid is not None:
            return nid
        if self._absent.get(text):
            return None
        assignments = self._assignments
        row = await self.db.fetchone(self._select, to_db_text(text))
        if row is None:
            if self._assignments == assignments:
                self._absent.put(text, True)
            return None
        return self._remember(text, int(row[0]))

    async def assign(self, text: str) -> int:
        """The NID of ``text``, creating it if needed."""
        nid = await self.lookup(text)
        if nid is not None:
            return nid
        self._assignments += 1  # before and after: no overlapping lookup may cache "absent"
        self._absent.discard(text)
        try:
            await self.db.execute(self._insert, to_db_text(text))
            row = await self.db.fetchone(self._select, to_db_text(text))
        finally:
            self._assignments += 1
        assert row is not None
        return self._remember(text, int(row[0]))

    async def text_of(self, nid: int) -> str:
        """The text of ``nid`` (raises KeyError if unknown)."""
        text = self.by_nid.get(nid)
        if text is not None:
            return text
        row = await self.db.fetchone(self._select_text, nid)
        if row is None:
            raise KeyError(nid)
        text = from_db_text(str(row[0]))
        self._remember(text, nid)
        return text

    async def texts_of(self, nids: Iterable[int]) -> dict[int, str]:
        """The texts of many NIDs, with one query for those not cached."""
        out: dict[int, str] = {}
        missing: list[int] = []
        for nid in set(nids):
            text = self.by_nid.get(nid)
            if text is None:
                missing.append(nid)
            else:
                out[nid] = text
        for i in range(0, len(missing), 500):
            chunk = missing[i : i + 500]
            marks = ", ".join(f"${j + 1}" for j in range(len(chunk)))
            for nid, text in await self.db.fetchall(f"{self._select_many}({marks})", *chunk):
                out[int(nid)] = self._remember_text(from_db_text(str(text)), int(nid))
        return out

    def _remember_text(self, text: str, nid: int) -> str:
        self._remember(text, nid)
        return text


class NidStore:
    """NIDs for event types and state keys."""

    def __init__(self, db: Database) -> None:
        self.types = _NidTable(db, "event_type_nids", "type_nid", "event_type")
        self.state_keys = _NidTable(db, "state_key_nids", "state_key_nid", "state_key")

    async def assign_key(self, event_type: str, state_key: str) -> tuple[int, int]:
        """``(type_nid, state_key_nid)`` for a state key, creating NIDs as needed."""
        return await self.types.assign(event_type), await self.state_keys.assign(state_key)

    async def lookup_key(self, event_type: str, state_key: str) -> tuple[int, int] | None:
        """``(type_nid, state_key_nid)`` if both exist, else None (nothing has that key)."""
        t = await self.types.lookup(event_type)
        if t is None:
            return None
        s = await self.state_keys.lookup(state_key)
        return None if s is None else (t, s)

    async def key_of(self, nids: tuple[int, int]) -> tuple[str, str]:
        """``(event_type, state_key)`` of a NID pair."""
        return await self.types.text_of(nids[0]), await self.state_keys.text_of(nids[1])

    async def keys_of(
        self, pairs: Iterable[tuple[int, int]]
    ) -> dict[tuple[int, int], tuple[str, str]]:
        """:meth:`key_of` for many pairs."""
        return {p: await self.key_of(p) for p in pairs}

"""Erased users: accounts deactivated with ``erase`` (table ``erased_users``).

Spec: client-server-api account_deactivation.yaml, ``erase``: "any users (or
servers) which join the room after the erasure request are served redacted copies
of the events sent by this account ... the erasure request is not shared over
federation". :class:`ErasedUsers` records the request; the federation endpoints that
serve events (:class:`ranvier.federation.room_data.RoomData`) redact the events of
the users it lists, as Synapse does for every server that asks. Erasure is
permanent: the row is never removed (the user ID cannot be reused either).

Every event served to a client or another server asks whether its sender was erased,
so the (small) table is held in memory per database: read once, updated by
:meth:`ErasedUsers.mark` in this process, and read again after
:data:`REFRESH_SECONDS` so that another process's erasures are seen too.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Iterable

from ranvier.db.api import Database

REFRESH_SECONDS = 30.0
"""How long the in-memory copy is trusted before the table is read again."""


class _Snapshot:
    """The erased users of one database, as last read (``user_id -> erased_ts``)."""

    def __init__(self) -> None:
        self.erased: dict[str, int] = {}
        self.read_at = -REFRESH_SECONDS
        self.lock = asyncio.Lock()


_SNAPSHOTS: weakref.WeakKeyDictionary[Database, _Snapshot] = weakref.WeakKeyDictionary()


class ErasedUsers:
    """Reads and writes the set of erased users."""

    def __init__(self, db: Database) -> None:
        self._db = db
        snapshot = _SNAPSHOTS.get(db)
        if snapshot is None:
            snapshot = _SNAPSHOTS[db] = _Snapshot()
        self._snapshot = snapshot

    async def _current(self) -> dict[str, int]:
        snap = self._snapshot
        if time.monotonic() - snap.read_at < REFRESH_SECONDS:
            return snap.erased
        async with snap.lock:
            if time.monotonic() - snap.read_at >= REFRESH_SECONDS:
                rows = await self._db.fetchall("SELECT user_id, erased_ts FROM erased_users")
                snap.erased = {str(r[0]): int(r[1]) for r in rows}
                snap.read_at = time.monotonic()
        return snap.erased

    async def mark(self, user_id: str) -> None:
        """Record that ``user_id`` asked for erasure (idempotent)."""
        now = int(time.time() * 1000)
        await self._db.execute(
            "INSERT INTO erased_users (user_id, erased_ts) VALUES ($1, $2)"
            " ON CONFLICT (user_id) DO NOTHING",
            user_id,
            now,
        )
        row = await self._db.fetchone(
            "SELECT erased_ts FROM erased_users WHERE user_id = $1", user_id
        )
        if row is not None:
            self._snapshot.erased[user_id] = int(row[0])

    async def erased_at(self, user_id: str) -> int | None:
        """When ``user_id`` asked for erasure (ms since the epoch), or None."""
        return (await self._current()).get(user_id)

    async def erased_among(self, user_ids: Iterable[str]) -> set[str]:
        """The users of ``user_ids`` who were erased."""
        erased = await self._current()
        return {u for u in user_ids if u in erased}

"""Erased users: accounts deactivated with ``erase`` (table ``erased_users``).

Spec: client-server-api account_deactivation.yaml, ``erase``: "any users (or
servers) which join the room after the erasure request are served redacted copies
of the events sent by this account ... the erasure request is not shared over
federation". :class:`ErasedUsers` records the request; the federation endpoints that
serve events (:class:`ranvier.federation.room_data.RoomData`) redact the events of
the users it lists, as Synapse does for every server that asks. Erasure is
permanent: the row is never removed (the user ID cannot be reused either).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from ranvier.db.api import Database


class ErasedUsers:
    """Reads and writes the set of erased users."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def mark(self, user_id: str) -> None:
        """Record that ``user_id`` asked for erasure (idempotent)."""
        await self._db.execute(
            "INSERT INTO erased_users (user_id, erased_ts) VALUES ($1, $2)"
            " ON CONFLICT (user_id) DO NOTHING",
            user_id,
            int(time.time() * 1000),
        )

    async def erased_at(self, user_id: str) -> int | None:
        """When ``user_id`` asked for erasure (ms since the epoch), or None."""
        row = await self._db.fetchone(
            "SELECT erased_ts FROM erased_users WHERE user_id = $1", user_id
        )
        return None if row is None else int(row[0])

    async def erased_among(self, user_ids: Iterable[str]) -> set[str]:
        """The users of ``user_ids`` who were erased."""
        out: set[str] = set()
        for user_id in set(user_ids):
            row = await self._db.fetchone("SELECT 1 FROM erased_users WHERE user_id = $1", user_id)
            if row is not None:
                out.add(user_id)
        return out

"""Forgotten rooms (client-server-api "Leaving rooms": ``POST /rooms/{roomId}/forget``).

A user may forget a room they are not joined to; forgotten rooms never appear in
``/sync`` (not even with ``include_leave``) and their history is no longer readable,
"until the user re-joins, is re-invited, or knocks". Theory of operation: the
``room_forgotten`` row records the stream position of the user's membership event at
the time they forgot; the room counts as forgotten only while that is still the
user's current membership event (``room_memberships.stream_ordering``), so a new
membership event ends it without anyone having to clear the flag.

Readers: :meth:`ForgottenStore.is_forgotten` for one room, and
:meth:`ForgottenStore.forgotten_room_ids` for the sync leave section.
"""

from __future__ import annotations

from ranvier.db import Database

_CURRENT = (
    " FROM room_forgotten f JOIN room_memberships m"
    " ON m.room_nid = f.room_nid AND m.user_id = f.user_id"
    " AND m.stream_ordering = f.stream_ordering"
)


class ForgottenStore:
    """The ``room_forgotten`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def forget(self, user_id: str, room_nid: int, stream_ordering: int) -> None:
        """Mark the room forgotten as of the membership event at ``stream_ordering``."""
        await self.db.execute(
            "INSERT INTO room_forgotten (user_id, room_nid, stream_ordering) VALUES ($1, $2, $3)"
            " ON CONFLICT (user_id, room_nid) DO UPDATE SET"
            " stream_ordering = excluded.stream_ordering",
            user_id,
            room_nid,
            stream_ordering,
        )

    async def is_forgotten(self, user_id: str, room_nid: int) -> bool:
        """Whether ``user_id`` has forgotten the room (and not rejoined since)."""
        row = await self.db.fetchone(
            f"SELECT 1{_CURRENT} WHERE f.user_id = $1 AND f.room_nid = $2", user_id, room_nid
        )
        return row is not None

    async def forgotten_room_ids(self, user_id: str) -> set[str]:
        """Ids of every room ``user_id`` has forgotten (and not rejoined since)."""
        rows = await self.db.fetchall(
            f"SELECT r.room_id{_CURRENT} JOIN rooms r ON r.room_nid = f.room_nid"
            " WHERE f.user_id = $1",
            user_id,
        )
        return {str(r[0]) for r in rows}

    async def current_membership(self, user_id: str, room_nid: int) -> tuple[str, int] | None:
        """``(membership, stream position of its event)`` of the user in the room."""
        row = await self.db.fetchone(
            "SELECT membership, stream_ordering FROM room_memberships"
            " WHERE room_nid = $1 AND user_id = $2",
            room_nid,
            user_id,
        )
        return None if row is None else (str(row[0]), int(row[1]))

"""Storage of presence: one row per user, and who may see whose presence.

Spec: client-server-api "Presence" ("Presence events are sent to interested parties
where users share a room membership"). Table ``presence`` of migration
``0600_ephemeral.sql``. Every write takes the next position of the ``presence`` stream
(the counter row bumped inside the write's transaction, as for receipts), so "presence
changes after N of the users sharing a room with me" is one query over the stream index
joined with the rooms component's ``room_memberships`` (read only, through its
``(user_id, membership)`` index).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ranvier.db.api import Database

ONLINE = "online"
UNAVAILABLE = "unavailable"
OFFLINE = "offline"
STATES = frozenset({ONLINE, UNAVAILABLE, OFFLINE})

_COLUMNS = (
    "user_id, state, status_msg, last_active_ts, last_user_sync_ts, currently_active, stream_id"
)


@dataclass(frozen=True, slots=True)
class UserPresence:
    """A user's presence as stored (times in milliseconds since the epoch)."""

    user_id: str
    state: str = OFFLINE
    status_msg: str | None = None
    last_active_ts: int = 0
    last_user_sync_ts: int = 0
    currently_active: bool = False
    stream_id: int = 0


def _row(row: Sequence[Any]) -> UserPresence:
    return UserPresence(
        str(row[0]),
        str(row[1]),
        None if row[2] is None else str(row[2]),
        int(row[3]),
        int(row[4]),
        bool(row[5]),
        int(row[6]),
    )


class PresenceStore:
    """Reads and writes ``presence``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def current_position(self) -> int:
        """The latest position of the presence stream handed out."""
        row = await self.db.fetchone(
            "SELECT position FROM ephemeral_stream_positions WHERE stream = 'presence'"
        )
        return 0 if row is None else int(row[0])

    async def get(self, user_id: str) -> UserPresence | None:
        """The stored presence of ``user_id``, or None."""
        row = await self.db.fetchone(f"SELECT {_COLUMNS} FROM presence WHERE user_id = $1", user_id)
        return None if row is None else _row(row)

    async def put(self, p: UserPresence) -> UserPresence:
        """Store ``p`` (its ``stream_id`` is ignored); return it with its new position."""
        async with self.db.transaction() as conn:
            pos_row = await conn.fetchone(
                "UPDATE ephemeral_stream_positions SET position = position + 1"
                " WHERE stream = 'presence' RETURNING position"
            )
            assert pos_row is not None, "ephemeral_stream_positions row missing"
            position = int(pos_row[0])
            await conn.execute(
                f"INSERT INTO presence ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                " ON CONFLICT (user_id) DO UPDATE SET state = EXCLUDED.state,"
                " status_msg = EXCLUDED.status_msg, last_active_ts = EXCLUDED.last_active_ts,"
                " last_user_sync_ts = EXCLUDED.last_user_sync_ts,"
                " currently_active = EXCLUDED.currently_active, stream_id = EXCLUDED.stream_id",
                p.user_id,
                p.state,
                p.status_msg,
                p.last_active_ts,
                p.last_user_sync_ts,
                p.currently_active,
                position,
            )
        return UserPresence(
            p.user_id,
            p.state,
            p.status_msg,
            p.last_active_ts,
            p.last_user_sync_ts,
            p.currently_active,
            position,
        )

    async def not_offline(self, server_name: str) -> list[UserPresence]:
        """Users of ``server_name`` whose stored state is not offline (loaded at start)."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM presence WHERE state <> 'offline' AND user_id LIKE $1",
            f"%:{server_name}",
        )
        return [_row(r) for r in rows]

    async def changed_for(self, observer: str, from_pos: int, to_pos: int) -> list[UserPresence]:
        """Presence written in ``(from_pos, to_pos]`` of ``observer`` and of every user
        joined to a room ``observer`` is joined to, oldest first."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM presence WHERE stream_id > $1 AND stream_id <= $2"
            " AND (user_id = $3 OR user_id IN ("
            " SELECT m2.user_id FROM room_memberships m1 JOIN room_memberships m2"
            " ON m2.room_nid = m1.room_nid"
            " WHERE m1.user_id = $3 AND m1.membership = 'join' AND m2.membership = 'join'))"
            " ORDER BY stream_id",
            from_pos,
            to_pos,
            observer,
        )
        return [_row(r) for r in rows]

    async def share_a_room(self, a: str, b: str) -> bool:
        """Whether users ``a`` and ``b`` are both joined to some room."""
        row = await self.db.fetchone(
            "SELECT 1 FROM room_memberships m1 JOIN room_memberships m2"
            " ON m2.room_nid = m1.room_nid WHERE m1.user_id = $1 AND m1.membership = 'join'"
            " AND m2.user_id = $2 AND m2.membership = 'join' LIMIT 1",
            a,
            b,
        )
        return row is not None

    async def delete_user(self, user_id: str) -> None:
        """Forget a user's presence (deactivation with erase)."""
        await self.db.execute("DELETE FROM presence WHERE user_id = $1", user_id)

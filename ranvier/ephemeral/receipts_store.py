"""Storage of receipts: the latest receipt per room, type, user and thread.

Spec: client-server-api "Receipts" ("Each ``user_id``, ``receipt_type``, and
categorisation (unthreaded, or ``thread_id``) tuple must be associated with only a
single ``event_id``"). Table ``receipts`` of migration ``0600_ephemeral.sql``; an
unthreaded receipt has ``thread_id`` ``''``.

Every write takes the next position of the ``receipts`` stream (a counter row bumped
with ``UPDATE ... RETURNING`` inside the write's transaction: PostgreSQL's row lock
serialises writers until commit, SQLite has one writer), so positions commit in
increasing order and "receipts after position N" is one range query. Receipts only
move forward: a receipt for an event at or before the stream ordering of the one
stored is ignored (``ON CONFLICT ... DO UPDATE ... WHERE``), as a read-up-to marker
going back would un-read messages.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ranvier.core.events import JsonDict
from ranvier.db.api import Database

UNTHREADED = ""
"""The ``thread_id`` column value of an unthreaded receipt."""

_COLUMNS = "room_id, receipt_type, user_id, thread_id, event_id, data, stream_id"
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Receipt:
    """One stored receipt."""

    room_id: str
    receipt_type: str
    user_id: str
    thread_id: str | None
    """None for an unthreaded receipt."""
    event_id: str
    data: JsonDict
    """What clients see for the user: ``{"ts": ..., "thread_id"?: ...}``."""
    stream_id: int


def _row(row: Sequence[Any]) -> Receipt:
    thread = str(row[3])
    return Receipt(
        str(row[0]),
        str(row[1]),
        str(row[2]),
        None if thread == UNTHREADED else thread,
        str(row[4]),
        orjson.loads(row[5]),
        int(row[6]),
    )


class ReceiptStore:
    """Reads and writes ``receipts``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def current_position(self) -> int:
        """The latest position of the receipts stream handed out."""
        row = await self.db.fetchone(
            "SELECT position FROM ephemeral_stream_positions WHERE stream = 'receipts'"
        )
        return 0 if row is None else int(row[0])

    async def get(
        self, room_id: str, receipt_type: str, user_id: str, thread_id: str | None = None
    ) -> Receipt | None:
        """The stored receipt for this key, or None."""
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM receipts WHERE room_id = $1 AND receipt_type = $2"
            " AND user_id = $3 AND thread_id = $4",
            room_id,
            receipt_type,
            user_id,
            thread_id or UNTHREADED,
        )
        return None if row is None else _row(row)

    async def put(
        self,
        room_id: str,
        receipt_type: str,
        user_id: str,
        thread_id: str | None,
        event_id: str,
        event_stream_ordering: int | None,
        data: JsonDict,
    ) -> int | None:
        """Store a receipt unless the stored one is for the same or a later event (by
        stream ordering; unknown orderings always replace). Return the new stream
        position, or None when nothing changed."""
        thread = thread_id or UNTHREADED
        existing = await self.db.fetchone(
            "SELECT event_id, event_stream_ordering FROM receipts WHERE room_id = $1"
            " AND receipt_type = $2 AND user_id = $3 AND thread_id = $4",
            room_id,
            receipt_type,
            user_id,
            thread,
        )
        if existing is not None:
            if existing[0] == event_id:
                return None
            old = existing[1]
            if (
                old is not None
                and event_stream_ordering is not None
                and int(old) >= event_stream_ordering
            ):
                return None
        async with self.db.transaction() as conn:
            pos_row = await conn.fetchone(
                "UPDATE ephemeral_stream_positions SET position = position + 1"
                " WHERE stream = 'receipts' RETURNING position"
            )
            assert pos_row is not None, "ephemeral_stream_positions row missing"
            position = int(pos_row[0])
            # The WHERE repeats the check above against a writer that raced us.
            written = await conn.fetchone(
                "INSERT INTO receipts (room_id, receipt_type, user_id, thread_id, event_id,"
                " event_stream_ordering, data, stream_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                " ON CONFLICT (room_id, receipt_type, user_id, thread_id) DO UPDATE SET"
                " event_id = EXCLUDED.event_id,"
                " event_stream_ordering = EXCLUDED.event_stream_ordering,"
                " data = EXCLUDED.data, stream_id = EXCLUDED.stream_id"
                " WHERE receipts.event_id <> EXCLUDED.event_id AND ("
                " receipts.event_stream_ordering IS NULL"
                " OR EXCLUDED.event_stream_ordering IS NULL"
                " OR receipts.event_stream_ordering < EXCLUDED.event_stream_ordering)"
                " RETURNING stream_id",
                room_id,
                receipt_type,
                user_id,
                thread,
                event_id,
                event_stream_ordering,
                orjson.dumps(data).decode(),
                position,
            )
        return None if written is None else position

    async def changed_between(self, from_pos: int, to_pos: int) -> list[Receipt]:
        """Receipts written at positions in ``(from_pos, to_pos]``, oldest first."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM receipts WHERE stream_id > $1 AND stream_id <= $2"
            " ORDER BY stream_id",
            from_pos,
            to_pos,
        )
        return [_row(r) for r in rows]

    async def for_rooms(self, room_ids: Collection[str], to_pos: int) -> list[Receipt]:
        """Every receipt in the rooms written at or before ``to_pos`` (an initial sync)."""
        ids = list(room_ids)
        out: list[Receipt] = []
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ", ".join(f"${j + 2}" for j in range(len(chunk)))
            rows = await self.db.fetchall(
                f"SELECT {_COLUMNS} FROM receipts WHERE stream_id <= $1"
                f" AND room_id IN ({marks}) ORDER BY stream_id",
                to_pos,
                *chunk,
            )
            out.extend(_row(r) for r in rows)
        return out

    async def delete_user(self, user_id: str) -> None:
        """Forget every receipt of a user (deactivation with erase)."""
        await self.db.execute("DELETE FROM receipts WHERE user_id = $1", user_id)

"""Per-user account data, global and per room, and room tags (client-server-api
"Client Config" (account-data.yaml) and "Room Tagging" (tags.yaml)).

Every write takes the next position of the ``account_data`` stream (a counter row
bumped with ``UPDATE ... RETURNING`` inside the write's transaction: PostgreSQL's row
lock serialises writers, SQLite has a single writer), so ``/sync`` can ask for "changes
after position N" with :meth:`AccountDataStore.changes_since` and listeners registered
with :meth:`AccountDataStore.add_listener` are told the new position. Room tags are the
per-room ``m.tag`` account data event, ``{"tags": {name: {"order": n}}}``, which is
exactly how ``/sync`` delivers them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ranvier.db.api import Connection, Database
from ranvier.http.types import MatrixError

GLOBAL = ""
"""The ``room_id`` column value for global account data."""

SERVER_MANAGED_TYPES = frozenset({"m.fully_read", "m.push_rules"})
"""Types clients may not set through the account data API (405 ``M_BAD_JSON``)."""

TAG_EVENT_TYPE = "m.tag"
MAX_TAG_BYTES = 255

AccountDataListener = Callable[[str, int], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class AccountDataChange:
    """One account data entry as of a stream position."""

    room_id: str | None
    data_type: str
    content: dict[str, Any]
    stream_id: int


class AccountDataStore:
    """Reads and writes ``account_data``."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._listeners: list[AccountDataListener] = []

    def add_listener(self, listener: AccountDataListener) -> None:
        """Call ``await listener(user_id, stream_id)`` after each committed write."""
        self._listeners.append(listener)

    @staticmethod
    async def _next_position(conn: Connection) -> int:
        row = await conn.fetchone(
            "UPDATE user_stream_counters SET position = position + 1 "
            "WHERE name = 'account_data' RETURNING position"
        )
        assert row is not None, "user_stream_counters row missing"
        return int(row[0])

    async def put(
        self, user_id: str, room_id: str | None, data_type: str, content: dict[str, Any]
    ) -> int:
        """Store ``content`` for ``data_type`` (global if ``room_id`` is None)."""
        async with self._db.transaction() as conn:
            position = await self.put_in(conn, user_id, room_id, data_type, content)
        await self.notify(user_id, position)
        return position

    async def put_in(
        self,
        conn: Connection,
        user_id: str,
        room_id: str | None,
        data_type: str,
        content: dict[str, Any],
    ) -> int:
        """:meth:`put` inside the caller's transaction (a component storing its own
        data with the account data it mirrors); call :meth:`notify` after the commit."""
        position = await self._next_position(conn)
        await conn.execute(
            "INSERT INTO account_data (user_id, room_id, data_type, content, stream_id) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, room_id, data_type) "
            "DO UPDATE SET content = EXCLUDED.content, stream_id = EXCLUDED.stream_id",
            user_id,
            room_id or GLOBAL,
            data_type,
            orjson.dumps(content).decode(),
            position,
        )
        return position

    async def notify(self, user_id: str, position: int) -> None:
        """Tell the listeners about a write made with :meth:`put_in`."""
        for listener in self._listeners:
            await listener(user_id, position)

    async def get(self, user_id: str, room_id: str | None, data_type: str) -> dict[str, Any] | None:
        """The content of one entry or None."""
        row = await self._db.fetchone(
            "SELECT content FROM account_data WHERE user_id = $1 AND room_id = $2 "
            "AND data_type = $3",
            user_id,
            room_id or GLOBAL,
            data_type,
        )
        return None if row is None else dict(orjson.loads(row[0]))

    async def changes_since(
        self, user_id: str, after: int, upto: int | None = None
    ) -> list[AccountDataChange]:
        """Entries whose latest write is in ``(after, upto]``, oldest first."""
        rows = await self._db.fetchall(
            "SELECT room_id, data_type, content, stream_id FROM account_data "
            "WHERE user_id = $1 AND stream_id > $2 AND stream_id <= $3 ORDER BY stream_id",
            user_id,
            after,
            upto if upto is not None else 2**62,
        )
        return [
            AccountDataChange(
                None if r[0] == GLOBAL else str(r[0]), str(r[1]), orjson.loads(r[2]), int(r[3])
            )
            for r in rows
        ]

    async def current_position(self) -> int:
        """The latest stream position handed out."""
        row = await self._db.fetchone(
            "SELECT position FROM user_stream_counters WHERE name = 'account_data'"
        )
        return 0 if row is None else int(row[0])

    # -- room tags ---------------------------------------------------------------------

    async def get_tags(self, user_id: str, room_id: str) -> dict[str, Any]:
        """``{tag: {...}}`` for one room."""
        content = await self.get(user_id, room_id, TAG_EVENT_TYPE)
        tags = (content or {}).get("tags")
        return dict(tags) if isinstance(tags, dict) else {}

    async def set_tag(self, user_id: str, room_id: str, tag: str, body: dict[str, Any]) -> None:
        """Add or replace one tag (validated) on a room."""
        if not tag or len(tag.encode("utf-8")) > MAX_TAG_BYTES:
            raise MatrixError(400, "M_INVALID_PARAM", "Tag names must be 1 to 255 bytes")
        order = body.get("order")
        if order is not None and (isinstance(order, bool) or not isinstance(order, int | float)):
            raise MatrixError(400, "M_BAD_JSON", "'order' must be a number")
        await self._modify_tags(user_id, room_id, tag, body)

    async def remove_tag(self, user_id: str, room_id: str, tag: str) -> None:
        """Remove one tag from a room (no error if absent)."""
        await self._modify_tags(user_id, room_id, tag, None)

    async def _modify_tags(
        self, user_id: str, room_id: str, tag: str, body: dict[str, Any] | None
    ) -> None:
        async with self._db.transaction() as conn:
            row = await conn.fetchone(
                "SELECT content FROM account_data WHERE user_id = $1 AND room_id = $2 "
                "AND data_type = $3",
                user_id,
                room_id,
                TAG_EVENT_TYPE,
            )
            content = orjson.loads(row[0]) if row is not None else {}
            tags = content.get("tags") if isinstance(content, dict) else None
            tags = dict(tags) if isinstance(tags, dict) else {}
            if body is None:
                if tag not in tags:
                    return
                del tags[tag]
            else:
                tags[tag] = body
            position = await self.put_in(conn, user_id, room_id, TAG_EVENT_TYPE, {"tags": tags})
        await self.notify(user_id, position)

    async def delete_user(self, user_id: str) -> None:
        """Forget all account data of a user (deactivation with erase)."""
        await self._db.execute("DELETE FROM account_data WHERE user_id = $1", user_id)

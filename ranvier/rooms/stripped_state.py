"""Stored stripped state of invites and knocks for rooms this server is not in.

Spec: client-server-api "Stripped state"; server-server-api "Inviting to a room"
(``invite_room_state``) and "Knocking upon a room" (``knock_room_state``).

When this server is in a room, the stripped state shown with an invite or knock is read
from the room's own state before the membership event (:mod:`ranvier.sync.invites`).
When it is not, the membership event is stored as an outlier without state, and the
state the other server sent with it is kept here, already stripped, by the membership
event's NID (table ``federation_stripped_state``, migration 0750).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from ranvier.core.events import JsonDict
from ranvier.db import Database


class StrippedStateStore:
    """The ``federation_stripped_state`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def save(self, event_nid: int, events: Sequence[JsonDict]) -> None:
        """Remember the stripped state shown with the membership event ``event_nid``."""
        await self.db.execute(
            "INSERT INTO federation_stripped_state (event_nid, json) VALUES ($1, $2)"
            " ON CONFLICT (event_nid) DO UPDATE SET json = excluded.json",
            event_nid,
            orjson.dumps(list(events)).decode(),
        )

    async def load(self, event_nid: int) -> list[JsonDict] | None:
        """The stripped state saved for ``event_nid`` (None: none was saved)."""
        row = await self.db.fetchone(
            "SELECT json FROM federation_stripped_state WHERE event_nid = $1", event_nid
        )
        if row is None:
            return None
        data = orjson.loads(str(row[0]))
        return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else None

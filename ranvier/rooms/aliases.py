"""Local room aliases (client-server-api "Room aliases"): ``#alias:server -> room id``.

Only what room creation and joining need so far: create an alias once (a taken alias
is 400 ``M_ROOM_IN_USE`` at ``/createRoom``), resolve one, list a room's aliases.
"""

from __future__ import annotations

from ranvier.db import Database, UniqueViolation


class AliasTaken(Exception):
    """The alias already points to a room."""


class AliasStore:
    """The ``room_aliases`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, alias: str, room_id: str, creator: str) -> None:
        """Map ``alias`` to ``room_id``; raise :class:`AliasTaken` if it exists."""
        try:
            await self.db.execute(
                "INSERT INTO room_aliases (room_alias, room_id, creator) VALUES ($1, $2, $3)",
                alias,
                room_id,
                creator,
            )
        except UniqueViolation:
            raise AliasTaken(alias) from None

    async def resolve(self, alias: str) -> str | None:
        """The room id of ``alias``, or None."""
        row = await self.db.fetchone(
            "SELECT room_id FROM room_aliases WHERE room_alias = $1", alias
        )
        return None if row is None else str(row[0])

    async def delete(self, alias: str) -> bool:
        """Remove ``alias``; return whether it existed."""
        return await self.db.execute("DELETE FROM room_aliases WHERE room_alias = $1", alias) > 0

    async def aliases_of(self, room_id: str) -> list[str]:
        """Every local alias of ``room_id``."""
        rows = await self.db.fetchall(
            "SELECT room_alias FROM room_aliases WHERE room_id = $1 ORDER BY room_alias", room_id
        )
        return [str(r[0]) for r in rows]

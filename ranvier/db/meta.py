"""Server-wide metadata in the ``kv_meta`` table (schema 0001).

A tiny key/value store for facts about the whole database that have no better
home: the server name it was created for, persisted stream positions, and the
like. Values are text; callers encode anything else themselves.
"""

from __future__ import annotations

from ranvier.db.api import Database


async def get_meta(db: Database, key: str) -> str | None:
    """The value stored under ``key``, or None."""
    row = await db.fetchone("SELECT value FROM kv_meta WHERE key = $1", key)
    return None if row is None else str(row[0])


async def set_meta(db: Database, key: str, value: str) -> None:
    """Store ``value`` under ``key``, replacing any previous value."""
    await db.execute(
        "INSERT INTO kv_meta (key, value) VALUES ($1, $2)"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        key,
        value,
    )


async def delete_meta(db: Database, key: str) -> bool:
    """Remove ``key``; return whether it was there."""
    return await db.execute("DELETE FROM kv_meta WHERE key = $1", key) > 0

"""Storage of local devices' end-to-end keys: identity (device) keys, one-time keys and
fallback keys (migration ``1100_e2ee_keys.sql``).

Spec: client-server-api "End-to-End Encryption": "Uploading keys" (``POST
/keys/upload``), "Claiming one-time keys" (``POST /keys/claim``: "One-time keys are
given out in the order that they were uploaded"; when a device has none left its
fallback key is returned, and it stays until the device replaces it), and the counts
``/sync`` reports (``device_one_time_keys_count``,
``device_unused_fallback_key_types``).

A one-time key, once handed out, is deleted in the same transaction that reads it, so
two concurrent claims never get the same key.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from ranvier.core.events import JsonDict
from ranvier.db.api import Connection, Database


class KeyConflict(ValueError):
    """A one-time key id uploaded again with other contents."""


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def split_key_id(full: str) -> tuple[str, str] | None:
    """``"<algorithm>:<key_id>"`` -> ``(algorithm, key_id)``, or None when malformed."""
    algorithm, sep, key_id = full.partition(":")
    if not sep or not algorithm or not key_id:
        return None
    return algorithm, key_id


class E2eKeyStore:
    """Reads and writes ``e2e_device_keys``, ``e2e_one_time_keys``, ``e2e_fallback_keys``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- device (identity) keys -----------------------------------------------------

    async def device_keys(self, user_id: str) -> dict[str, JsonDict]:
        """``{device_id: device keys}`` of every device of ``user_id`` that uploaded keys."""
        rows = await self.db.fetchall(
            "SELECT device_id, keys_json FROM e2e_device_keys WHERE user_id = $1", user_id
        )
        return {str(r[0]): orjson.loads(r[1]) for r in rows}

    async def get_device_keys(self, user_id: str, device_id: str) -> JsonDict | None:
        """One device's keys, or None."""
        row = await self.db.fetchone(
            "SELECT keys_json FROM e2e_device_keys WHERE user_id = $1 AND device_id = $2",
            user_id,
            device_id,
        )
        if row is None:
            return None
        keys: JsonDict = orjson.loads(row[0])
        return keys

    async def set_device_keys(self, user_id: str, device_id: str, keys: Mapping[str, Any]) -> bool:
        """Store the device keys; True when they differ from those stored before."""
        text = _dumps(keys)
        async with self.db.transaction() as conn:
            row = await conn.fetchone(
                "SELECT keys_json FROM e2e_device_keys WHERE user_id = $1 AND device_id = $2",
                user_id,
                device_id,
            )
            if row is not None and orjson.loads(row[0]) == orjson.loads(text):
                return False
            await conn.execute(
                "INSERT INTO e2e_device_keys (user_id, device_id, keys_json) VALUES ($1, $2, $3)"
                " ON CONFLICT (user_id, device_id) DO UPDATE SET keys_json = EXCLUDED.keys_json",
                user_id,
                device_id,
                text,
            )
        return True

    # ---- one-time and fallback keys -------------------------------------------------

    async def add_one_time_keys(
        self, user_id: str, device_id: str, keys: Mapping[str, Any]
    ) -> None:
        """Store ``{"<algorithm>:<key_id>": key}``; a key id already held with the same
        contents is skipped, with other contents raises :class:`KeyConflict` (nothing is
        stored then)."""
        base = time.time_ns() // 1000
        rows: list[tuple[str, str, str, str, str, int]] = []
        async with self.db.transaction() as conn:
            for i, (full, key) in enumerate(sorted(keys.items())):
                parts = split_key_id(full)
                if parts is None:
                    raise KeyConflict(f"malformed key id {full!r}")
                algorithm, key_id = parts
                text = _dumps(key)
                row = await conn.fetchone(
                    "SELECT key_json FROM e2e_one_time_keys WHERE user_id = $1 AND device_id = $2"
                    " AND algorithm = $3 AND key_id = $4",
                    user_id,
                    device_id,
                    algorithm,
                    key_id,
                )
                if row is not None:
                    if orjson.loads(row[0]) != orjson.loads(text):
                        raise KeyConflict(f"one-time key {full} already exists with other contents")
                    continue
                rows.append((user_id, device_id, algorithm, key_id, text, base + i))
            if rows:
                await conn.executemany(
                    "INSERT INTO e2e_one_time_keys (user_id, device_id, algorithm, key_id,"
                    " key_json, ord) VALUES ($1, $2, $3, $4, $5, $6)",
                    rows,
                )

    async def set_fallback_keys(
        self, user_id: str, device_id: str, keys: Mapping[str, Any]
    ) -> None:
        """Replace the device's fallback key of each algorithm in ``keys`` (one per
        algorithm; re-uploading the same key keeps its ``used`` flag)."""
        async with self.db.transaction() as conn:
            for full, key in sorted(keys.items()):
                parts = split_key_id(full)
                if parts is None:
                    raise KeyConflict(f"malformed key id {full!r}")
                algorithm, key_id = parts
                text = _dumps(key)
                row = await conn.fetchone(
                    "SELECT key_id, key_json FROM e2e_fallback_keys WHERE user_id = $1"
                    " AND device_id = $2 AND algorithm = $3",
                    user_id,
                    device_id,
                    algorithm,
                )
                if row is not None and str(row[0]) == key_id and orjson.loads(row[1]) == key:
                    continue
                await conn.execute(
                    "INSERT INTO e2e_fallback_keys (user_id, device_id, algorithm, key_id,"
                    " key_json, used) VALUES ($1, $2, $3, $4, $5, FALSE)"
                    " ON CONFLICT (user_id, device_id, algorithm) DO UPDATE SET"
                    " key_id = EXCLUDED.key_id, key_json = EXCLUDED.key_json, used = FALSE",
                    user_id,
                    device_id,
                    algorithm,
                    key_id,
                    text,
                )

    async def one_time_key_counts(self, user_id: str, device_id: str) -> dict[str, int]:
        """``{algorithm: unclaimed one-time keys}`` of the device."""
        rows = await self.db.fetchall(
            "SELECT algorithm, COUNT(*) FROM e2e_one_time_keys WHERE user_id = $1"
            " AND device_id = $2 GROUP BY algorithm",
            user_id,
            device_id,
        )
        return {str(r[0]): int(r[1]) for r in rows}

    async def unused_fallback_key_types(self, user_id: str, device_id: str) -> list[str]:
        """The algorithms of the device's fallback keys not handed out yet."""
        rows = await self.db.fetchall(
            "SELECT algorithm FROM e2e_fallback_keys WHERE user_id = $1 AND device_id = $2"
            " AND NOT used ORDER BY algorithm",
            user_id,
            device_id,
        )
        return [str(r[0]) for r in rows]

    async def claim(
        self, wanted: Iterable[tuple[str, str, str]]
    ) -> dict[str, dict[str, dict[str, Any]]]:
        """Claim one key per ``(user_id, device_id, algorithm)``: the oldest one-time key
        (deleted), else the fallback key (marked used, kept). Returns
        ``{user_id: {device_id: {"<algorithm>:<key_id>": key}}}``; devices with neither
        are left out."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        async with self.db.transaction() as conn:
            for user_id, device_id, algorithm in wanted:
                row = await self._take_one_time_key(conn, user_id, device_id, algorithm)
                if row is None:
                    row = await conn.fetchone(
                        "SELECT key_id, key_json FROM e2e_fallback_keys WHERE user_id = $1"
                        " AND device_id = $2 AND algorithm = $3",
                        user_id,
                        device_id,
                        algorithm,
                    )
                    if row is None:
                        continue
                    await conn.execute(
                        "UPDATE e2e_fallback_keys SET used = TRUE WHERE user_id = $1"
                        " AND device_id = $2 AND algorithm = $3",
                        user_id,
                        device_id,
                        algorithm,
                    )
                out.setdefault(user_id, {}).setdefault(device_id, {})[f"{algorithm}:{row[0]}"] = (
                    orjson.loads(row[1])
                )
        return out

    @staticmethod
    async def _take_one_time_key(
        conn: Connection, user_id: str, device_id: str, algorithm: str
    ) -> tuple[Any, ...] | None:
        """Delete and return ``(key_id, key_json)`` of the device's oldest one-time key.
        The delete is conditional: when a concurrent claim deleted the key first (under
        PostgreSQL's READ COMMITTED the ``DELETE`` then finds no row), the next oldest
        is tried."""
        while True:
            row = await conn.fetchone(
                "SELECT key_id FROM e2e_one_time_keys WHERE user_id = $1"
                " AND device_id = $2 AND algorithm = $3 ORDER BY ord, key_id LIMIT 1",
                user_id,
                device_id,
                algorithm,
            )
            if row is None:
                return None
            taken = await conn.fetchone(
                "DELETE FROM e2e_one_time_keys WHERE user_id = $1 AND device_id = $2"
                " AND algorithm = $3 AND key_id = $4 RETURNING key_id, key_json",
                user_id,
                device_id,
                algorithm,
                row[0],
            )
            if taken is not None:
                return tuple(taken)

    # ---- device deletion ------------------------------------------------------------

    async def delete_device(self, user_id: str, device_id: str) -> None:
        """Forget every key of a deleted device."""
        async with self.db.transaction() as conn:
            for table in ("e2e_device_keys", "e2e_one_time_keys", "e2e_fallback_keys"):
                await conn.execute(
                    f"DELETE FROM {table} WHERE user_id = $1 AND device_id = $2",
                    user_id,
                    device_id,
                )

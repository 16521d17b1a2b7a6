"""Storage of remote users' device lists and cross-signing keys (migration
``0900_remote_device_lists.sql``).

Spec: server-server-api "Device Management": each ``m.device_list_update`` "describes
an incremental change to one device for a given user which should replace any
existing entry in the local server's cache of that device list"; a ``stream_id`` per
update, a resynchronisation (``GET /user/devices/{userId}``) giving the whole list and
the ``stream_id`` to continue from.

An update older than the device's stored ``stream_id`` is ignored, so a late one
cannot undo a newer change (deleted devices keep a row for the same reason).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from ranvier.core.events import JsonDict
from ranvier.db.api import Connection, Database


@dataclass(frozen=True, slots=True)
class RemoteDevice:
    """One remote device as last told."""

    user_id: str
    device_id: str
    stream_id: int
    display_name: str | None
    keys: JsonDict | None
    deleted: bool


def _now_ms() -> int:
    return int(time.time() * 1000)


class RemoteDeviceListStore:
    """Reads and writes ``remote_device_lists`` and friends."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def stream_state(self, user_id: str) -> tuple[int, bool] | None:
        """``(latest stream_id applied, needs_resync)`` for ``user_id``, or None."""
        row = await self.db.fetchone(
            "SELECT stream_id, needs_resync FROM remote_device_list_streams WHERE user_id = $1",
            user_id,
        )
        return None if row is None else (int(row[0]), bool(row[1]))

    async def apply_update(
        self,
        user_id: str,
        device_id: str,
        stream_id: int,
        display_name: str | None,
        keys: JsonDict | None,
        deleted: bool,
        *,
        needs_resync: bool,
    ) -> bool:
        """Apply one update; False when the stored device is already newer."""
        async with self.db.transaction() as conn:
            row = await conn.fetchone(
                "SELECT stream_id FROM remote_device_lists WHERE user_id = $1 AND device_id = $2",
                user_id,
                device_id,
            )
            if row is not None and int(row[0]) >= stream_id:
                return False
            await self._put(conn, user_id, device_id, stream_id, display_name, keys, deleted)
            await self._mark(conn, user_id, stream_id, needs_resync)
        return True

    async def replace_all(
        self, user_id: str, stream_id: int, devices: Sequence[RemoteDevice]
    ) -> None:
        """Replace the whole list of ``user_id`` (a resynchronisation): devices not in
        ``devices`` are marked deleted."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE remote_device_lists SET deleted = TRUE, stream_id = $2, updated_ts = $3"
                " WHERE user_id = $1",
                user_id,
                stream_id,
                _now_ms(),
            )
            for d in devices:
                await self._put(
                    conn, user_id, d.device_id, stream_id, d.display_name, d.keys, False
                )
            await conn.execute(
                "INSERT INTO remote_device_list_streams (user_id, stream_id, needs_resync)"
                " VALUES ($1, $2, FALSE) ON CONFLICT (user_id) DO UPDATE SET"
                " stream_id = EXCLUDED.stream_id, needs_resync = FALSE",
                user_id,
                stream_id,
            )

    async def mark_stale(self, user_id: str) -> None:
        """Forget where ``user_id``'s list stands (their updates stopped coming: no
        local user shares a room with them); the next update or key query fetches the
        whole list again."""
        await self.db.execute("DELETE FROM remote_device_list_streams WHERE user_id = $1", user_id)

    async def devices(self, user_id: str, *, include_deleted: bool = False) -> list[RemoteDevice]:
        """The stored devices of ``user_id``, by device id."""
        rows = await self.db.fetchall(
            "SELECT user_id, device_id, stream_id, display_name, keys_json, deleted"
            " FROM remote_device_lists WHERE user_id = $1 ORDER BY device_id",
            user_id,
        )
        out = [
            RemoteDevice(
                str(r[0]),
                str(r[1]),
                int(r[2]),
                None if r[3] is None else str(r[3]),
                None if r[4] is None else orjson.loads(r[4]),
                bool(r[5]),
            )
            for r in rows
        ]
        return out if include_deleted else [d for d in out if not d.deleted]

    async def put_cross_signing_key(self, user_id: str, key_type: str, key: JsonDict) -> None:
        """Store ``user_id``'s cross-signing key of ``key_type`` (``master``, ...)."""
        await self.db.execute(
            "INSERT INTO remote_cross_signing_keys (user_id, key_type, keys_json)"
            " VALUES ($1, $2, $3) ON CONFLICT (user_id, key_type) DO UPDATE SET"
            " keys_json = EXCLUDED.keys_json",
            user_id,
            key_type,
            orjson.dumps(key).decode(),
        )

    async def cross_signing_key(self, user_id: str, key_type: str) -> JsonDict | None:
        """The stored cross-signing key, or None."""
        row = await self.db.fetchone(
            "SELECT keys_json FROM remote_cross_signing_keys WHERE user_id = $1 AND key_type = $2",
            user_id,
            key_type,
        )
        if row is None:
            return None
        key: JsonDict = orjson.loads(row[0])
        return key

    @staticmethod
    async def _put(
        conn: Connection,
        user_id: str,
        device_id: str,
        stream_id: int,
        display_name: str | None,
        keys: JsonDict | None,
        deleted: bool,
    ) -> None:
        await conn.execute(
            "INSERT INTO remote_device_lists (user_id, device_id, stream_id, display_name,"
            " keys_json, deleted, updated_ts) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (user_id, device_id) DO UPDATE SET stream_id = EXCLUDED.stream_id,"
            " display_name = EXCLUDED.display_name, keys_json = EXCLUDED.keys_json,"
            " deleted = EXCLUDED.deleted, updated_ts = EXCLUDED.updated_ts",
            user_id,
            device_id,
            stream_id,
            display_name,
            None if keys is None else orjson.dumps(keys).decode(),
            deleted,
            _now_ms(),
        )

    @staticmethod
    async def _mark(conn: Connection, user_id: str, stream_id: int, needs_resync: bool) -> None:
        await conn.execute(
            "INSERT INTO remote_device_list_streams (user_id, stream_id, needs_resync)"
            " VALUES ($1, $2, $3) ON CONFLICT (user_id) DO UPDATE SET"
            " stream_id = CASE WHEN remote_device_list_streams.stream_id > EXCLUDED.stream_id"
            " THEN remote_device_list_streams.stream_id ELSE EXCLUDED.stream_id END,"
            " needs_resync = remote_device_list_streams.needs_resync OR EXCLUDED.needs_resync",
            user_id,
            stream_id,
            needs_resync,
        )

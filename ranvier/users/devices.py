"""The device table: one row per (user, device_id), with the last-seen connection.

A device is what an access token is bound to (client-server-api "Relationship between
access tokens and devices"); end-to-end keys hang off it too (owned elsewhere). The
last-seen fields feed ``GET /devices`` and ``GET /admin/whois``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ranvier.db.api import Connection, Database


@dataclass(frozen=True, slots=True)
class Device:
    """One device of a user."""

    user_id: str
    device_id: str
    display_name: str | None
    created_ts: int
    last_seen_ts: int | None
    last_seen_ip: str | None
    last_seen_user_agent: str | None

    def to_client(self) -> dict[str, object]:
        """The spec's ``Device`` object (device_management.yaml)."""
        # Unknown values are sent as null rather than left out: widely deployed
        # servers do so and client libraries (matrix-nio) require the keys.
        return {
            "device_id": self.device_id,
            "display_name": self.display_name,
            "last_seen_ip": self.last_seen_ip,
            "last_seen_ts": self.last_seen_ts,
        }


_COLUMNS = (
    "user_id, device_id, display_name, created_ts, last_seen_ts, last_seen_ip, last_seen_user_agent"
)


def _row(row: tuple[object, ...]) -> Device:
    return Device(
        user_id=str(row[0]),
        device_id=str(row[1]),
        display_name=None if row[2] is None else str(row[2]),
        created_ts=int(row[3]),  # type: ignore[call-overload]
        last_seen_ts=None if row[4] is None else int(row[4]),  # type: ignore[call-overload]
        last_seen_ip=None if row[5] is None else str(row[5]),
        last_seen_user_agent=None if row[6] is None else str(row[6]),
    )


class DeviceStore:
    """Reads and writes ``devices``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def ensure(
        self,
        conn: Connection,
        user_id: str,
        device_id: str,
        display_name: str | None,
        seen_from: tuple[str, str | None] | None = None,
    ) -> bool:
        """Create the device inside ``conn`` unless it exists; True if created.

        An existing device keeps its display name (register/login: "Ignored if
        ``device_id`` corresponds to a known device").
        """
        row = await conn.fetchone(
            "SELECT 1 FROM devices WHERE user_id = $1 AND device_id = $2", user_id, device_id
        )
        if row is not None:
            return False
        now = int(time.time() * 1000)
        ip, agent = seen_from if seen_from is not None else (None, None)
        await conn.execute(
            "INSERT INTO devices (user_id, device_id, display_name, created_ts, last_seen_ts, "
            "last_seen_ip, last_seen_user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            user_id,
            device_id,
            display_name,
            now,
            None if seen_from is None else now,
            ip,
            agent,
        )
        return True

    async def get(self, user_id: str, device_id: str) -> Device | None:
        """One device or None."""
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM devices WHERE user_id = $1 AND device_id = $2",
            user_id,
            device_id,
        )
        return None if row is None else _row(row)

    async def all_for(self, user_id: str) -> list[Device]:
        """All devices of ``user_id`` ordered by device ID."""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM devices WHERE user_id = $1 ORDER BY device_id", user_id
        )
        return [_row(r) for r in rows]

    async def set_display_name(self, user_id: str, device_id: str, name: str | None) -> bool:
        """Rename a device; False if it does not exist."""
        changed = await self._db.execute(
            "UPDATE devices SET display_name = $3 WHERE user_id = $1 AND device_id = $2",
            user_id,
            device_id,
            name,
        )
        return changed > 0

    async def create(self, user_id: str, device_id: str, display_name: str | None) -> bool:
        """Create a device in its own transaction; True if it did not exist."""
        async with self._db.transaction() as conn:
            return await self.ensure(conn, user_id, device_id, display_name)

    async def record_seen(
        self, user_id: str, device_id: str, ts: int, ip: str, user_agent: str | None
    ) -> None:
        """Update the last-seen connection of a device."""
        await self._db.execute(
            "UPDATE devices SET last_seen_ts = $3, last_seen_ip = $4, last_seen_user_agent = $5 "
            "WHERE user_id = $1 AND device_id = $2",
            user_id,
            device_id,
            ts,
            ip,
            user_agent,
        )

    @staticmethod
    async def delete_in(conn: Connection, user_id: str, device_ids: list[str]) -> None:
        """Delete devices inside ``conn`` (callers delete the tokens in the same transaction)."""
        for device_id in device_ids:
            await conn.execute(
                "DELETE FROM devices WHERE user_id = $1 AND device_id = $2", user_id, device_id
            )

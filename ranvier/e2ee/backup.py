"""Server-side key backups: backup versions and the room keys stored in them (migration
``1101_e2ee_key_backup.sql``).

Spec: client-server-api "Server-side key backups" and key_backup.yaml. A user has
numbered backup versions; the latest not deleted one is *current*, and keys may only be
written to it (403 ``M_WRONG_ROOM_KEYS_VERSION`` with ``current_version``), while any
existing version can be read (404 ``M_NOT_FOUND`` for an unknown or deleted one). When
a session is backed up again, the server keeps the better key: a verified one over an
unverified one, then the lower ``first_message_index``, then the lower
``forwarded_count``. Each write answers with the version's key ``count`` and ``etag``
(a counter of changes, so clients can tell whether the backup changed). Version
numbers are never reused: a deleted version keeps its row, its keys are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from ranvier.core.events import JsonDict
from ranvier.db.api import Connection, Database
from ranvier.http.types import MatrixError

MEGOLM_BACKUP = "m.megolm_backup.v1.curve25519-aes-sha2"


@dataclass(frozen=True, slots=True)
class SessionKey:
    """One backed-up session (``KeyBackupData``)."""

    first_message_index: int
    forwarded_count: int
    is_verified: bool
    session_data: Any

    def to_json(self) -> JsonDict:
        """The ``KeyBackupData`` object."""
        return {
            "first_message_index": self.first_message_index,
            "forwarded_count": self.forwarded_count,
            "is_verified": self.is_verified,
            "session_data": self.session_data,
        }

    def better_than(self, other: SessionKey) -> bool:
        """Whether this key should replace ``other`` (the spec's order)."""
        if self.is_verified != other.is_verified:
            return self.is_verified
        if self.first_message_index != other.first_message_index:
            return self.first_message_index < other.first_message_index
        return self.forwarded_count < other.forwarded_count


def _int(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise MatrixError(400, "M_BAD_JSON", f"'{name}' must be a non-negative integer")
    return value


def parse_session(value: Any) -> SessionKey:
    """A ``KeyBackupData`` from a request (400 ``M_BAD_JSON``)."""
    if not isinstance(value, dict):
        raise MatrixError(400, "M_BAD_JSON", "key backup data must be an object")
    verified, data = value.get("is_verified"), value.get("session_data")
    if not isinstance(verified, bool):
        raise MatrixError(400, "M_BAD_JSON", "'is_verified' must be a boolean")
    if data is None:  # an object for the spec's algorithm; kept as given otherwise
        raise MatrixError(400, "M_BAD_JSON", "'session_data' is required")
    return SessionKey(
        _int(value.get("first_message_index"), "first_message_index"),
        _int(value.get("forwarded_count"), "forwarded_count"),
        verified,
        data,
    )


def _version_number(version: str) -> int | None:
    if not version.isascii() or not version.isdigit() or len(version) > 18:
        return None
    return int(version)


def _not_found() -> MatrixError:
    return MatrixError(404, "M_NOT_FOUND", "Unknown backup version")


class KeyBackups:
    """Backup versions and keys of local users (module docstring)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- versions -------------------------------------------------------------------

    async def create_version(self, user_id: str, algorithm: str, auth_data: Any) -> str:
        """A new current version; returns its number."""
        async with self.db.transaction() as conn:
            row = await conn.fetchone(
                "SELECT MAX(version) FROM e2e_backup_versions WHERE user_id = $1", user_id
            )
            version = 1 if row is None or row[0] is None else int(row[0]) + 1
            await conn.execute(
                "INSERT INTO e2e_backup_versions (user_id, version, algorithm, auth_data)"
                " VALUES ($1, $2, $3, $4)",
                user_id,
                version,
                algorithm,
                orjson.dumps(auth_data).decode(),
            )
        return str(version)

    async def _current(self, conn: Connection | Database, user_id: str) -> int | None:
        row = await conn.fetchone(
            "SELECT MAX(version) FROM e2e_backup_versions WHERE user_id = $1 AND NOT deleted",
            user_id,
        )
        return None if row is None or row[0] is None else int(row[0])

    async def _version_row(
        self, conn: Connection | Database, user_id: str, version: int
    ) -> tuple[Any, ...] | None:
        row = await conn.fetchone(
            "SELECT algorithm, auth_data, etag FROM e2e_backup_versions WHERE user_id = $1"
            " AND version = $2 AND NOT deleted",
            user_id,
            version,
        )
        return None if row is None else tuple(row)

    async def get_version(self, user_id: str, version: str | None) -> JsonDict:
        """``GET /room_keys/version[/{version}]`` (None: the current one)."""
        number = (
            await self._current(self.db, user_id) if version is None else _version_number(version)
        )
        if number is None:
            raise MatrixError(404, "M_NOT_FOUND", "No current backup version")
        row = await self._version_row(self.db, user_id, number)
        if row is None:
            raise _not_found()
        return {
            "algorithm": str(row[0]),
            "auth_data": orjson.loads(row[1]),
            "count": await self._count(self.db, user_id, number),
            "etag": str(row[2]),
            "version": str(number),
        }

    async def update_version(self, user_id: str, version: str, body: JsonDict) -> None:
        """``PUT /room_keys/version/{version}``: only ``auth_data`` changes."""
        number = _version_number(version)
        row = None if number is None else await self._version_row(self.db, user_id, number)
        if number is None or row is None:
            raise _not_found()
        algorithm, auth_data = body.get("algorithm"), body.get("auth_data")
        if not isinstance(algorithm, str) or auth_data is None:
            raise MatrixError(400, "M_BAD_JSON", "'algorithm' and 'auth_data' are required")
        if algorithm != row[0]:
            raise MatrixError(400, "M_INVALID_PARAM", "The algorithm of a backup cannot change")
        if "version" in body and str(body["version"]) != version:
            raise MatrixError(400, "M_INVALID_PARAM", "'version' does not match the path")
        await self.db.execute(
            "UPDATE e2e_backup_versions SET auth_data = $3 WHERE user_id = $1 AND version = $2",
            user_id,
            number,
            orjson.dumps(auth_data).decode(),
        )

    async def delete_version(self, user_id: str, version: str) -> None:
        """``DELETE /room_keys/version/{version}``: the version and its keys."""
        number = _version_number(version)
        if number is None:
            raise _not_found()
        async with self.db.transaction() as conn:
            if await self._version_row(conn, user_id, number) is None:
                raise _not_found()
            await conn.execute(
                "UPDATE e2e_backup_versions SET deleted = TRUE WHERE user_id = $1 AND version = $2",
                user_id,
                number,
            )
            await conn.execute(
                "DELETE FROM e2e_backup_keys WHERE user_id = $1 AND version = $2",
                user_id,
                number,
            )

    # ---- keys -----------------------------------------------------------------------

    @staticmethod
    async def _count(conn: Connection | Database, user_id: str, version: int) -> int:
        row = await conn.fetchone(
            "SELECT COUNT(*) FROM e2e_backup_keys WHERE user_id = $1 AND version = $2",
            user_id,
            version,
        )
        return 0 if row is None else int(row[0])

    async def put_keys(
        self, user_id: str, version: str, keys: Iterable[tuple[str, str, SessionKey]]
    ) -> JsonDict:
        """Store ``(room_id, session_id, key)`` into the current version, keeping the
        better key of a session; returns ``{"count", "etag"}``."""
        async with self.db.transaction() as conn:
            current = await self._current(conn, user_id)
            number = _version_number(version)
            if current is None or number != current:
                if number is None or await self._version_row(conn, user_id, number) is None:
                    raise _not_found()
                raise MatrixError(
                    403,
                    "M_WRONG_ROOM_KEYS_VERSION",
                    "Wrong backup version.",
                    current_version=None if current is None else str(current),
                )
            changed = False
            for room_id, session_id, key in keys:
                row = await conn.fetchone(
                    "SELECT first_message_index, forwarded_count, is_verified, session_data"
                    " FROM e2e_backup_keys WHERE user_id = $1 AND version = $2 AND room_id = $3"
                    " AND session_id = $4",
                    user_id,
                    current,
                    room_id,
                    session_id,
                )
                if row is not None:
                    old = SessionKey(int(row[0]), int(row[1]), bool(row[2]), orjson.loads(row[3]))
                    if not key.better_than(old):
                        continue
                await conn.execute(
                    "INSERT INTO e2e_backup_keys (user_id, version, room_id, session_id,"
                    " first_message_index, forwarded_count, is_verified, session_data)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                    " ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET"
                    " first_message_index = EXCLUDED.first_message_index,"
                    " forwarded_count = EXCLUDED.forwarded_count,"
                    " is_verified = EXCLUDED.is_verified, session_data = EXCLUDED.session_data",
                    user_id,
                    current,
                    room_id,
                    session_id,
                    key.first_message_index,
                    key.forwarded_count,
                    key.is_verified,
                    orjson.dumps(key.session_data).decode(),
                )
                changed = True
            return await self._summary(conn, user_id, current, changed)

    async def _summary(
        self, conn: Connection, user_id: str, version: int, changed: bool
    ) -> JsonDict:
        if changed:
            await conn.execute(
                "UPDATE e2e_backup_versions SET etag = etag + 1 WHERE user_id = $1"
                " AND version = $2",
                user_id,
                version,
            )
        row = await self._version_row(conn, user_id, version)
        etag = "0" if row is None else str(row[2])
        return {"count": await self._count(conn, user_id, version), "etag": etag}

    async def _existing(self, user_id: str, version: str) -> int:
        number = _version_number(version)
        if number is None or await self._version_row(self.db, user_id, number) is None:
            raise _not_found()
        return number

    async def get_keys(
        self, user_id: str, version: str, room_id: str | None, session_id: str | None
    ) -> dict[str, dict[str, SessionKey]]:
        """``{room_id: {session_id: key}}`` of a version, narrowed to a room or session."""
        number = await self._existing(user_id, version)
        sql = (
            "SELECT room_id, session_id, first_message_index, forwarded_count, is_verified,"
            " session_data FROM e2e_backup_keys WHERE user_id = $1 AND version = $2"
        )
        args: list[Any] = [user_id, number]
        if room_id is not None:
            sql += " AND room_id = $3"
            args.append(room_id)
            if session_id is not None:
                sql += " AND session_id = $4"
                args.append(session_id)
        out: dict[str, dict[str, SessionKey]] = {}
        for r in await self.db.fetchall(sql, *args):
            out.setdefault(str(r[0]), {})[str(r[1])] = SessionKey(
                int(r[2]), int(r[3]), bool(r[4]), orjson.loads(r[5])
            )
        return out

    async def delete_keys(
        self, user_id: str, version: str, room_id: str | None, session_id: str | None
    ) -> JsonDict:
        """Delete a version's keys (of a room, of a session); ``{"count", "etag"}``."""
        number = await self._existing(user_id, version)
        sql = "DELETE FROM e2e_backup_keys WHERE user_id = $1 AND version = $2"
        args: list[Any] = [user_id, number]
        if room_id is not None:
            sql += " AND room_id = $3"
            args.append(room_id)
            if session_id is not None:
                sql += " AND session_id = $4"
                args.append(session_id)
        async with self.db.transaction() as conn:
            deleted = await conn.execute(sql, *args)
            return await self._summary(conn, user_id, number, deleted > 0)

"""The database side of the keyring: table ``federation_server_keys`` (migration 0300).

Spec: server-server-api "Retrieving server keys" (notaries keep and serve the last
responses they received, so signatures of old events stay checkable).

One row per (server, key id) with the verify key, the response's ``valid_until_ts``,
``expired_ts`` for old keys, when and from whom it was fetched, and the whole signed
response it came in. A row is only replaced by a response at least as fresh
(``valid_until_ts`` not smaller), so a late notary answer cannot roll a key back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ranvier.core.b64 import decode_base64, encode_base64
from ranvier.db.api import Database
from ranvier.federation.key_response import ServerKey


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A key response as remembered: the signed JSON and where and when it came from."""

    response: dict[str, Any]
    valid_until_ts: int
    fetched_ts: int
    from_server: str


_COLUMNS = "server_name, key_id, verify_key, valid_until_ts, expired_ts, fetched_ts, from_server"


def _key(row: tuple[Any, ...]) -> ServerKey:
    return ServerKey(
        server_name=str(row[0]),
        key_id=str(row[1]),
        verify_key=decode_base64(str(row[2])),
        valid_until_ts=int(row[3]),
        expired_ts=None if row[4] is None else int(row[4]),
        fetched_ts=int(row[5]),
        from_server=str(row[6]),
    )


class KeyStore:
    """Reads and writes remote server keys."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def store_response(self, keys: list[ServerKey], response: dict[str, Any]) -> None:
        """Remember ``keys`` (all from one ``response``) and the response itself."""
        if not keys:
            return
        blob = orjson.dumps(response).decode()
        async with self._db.transaction() as conn:
            for k in keys:
                await conn.execute(
                    f"INSERT INTO federation_server_keys ({_COLUMNS}, key_json) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                    "ON CONFLICT (server_name, key_id) DO UPDATE SET "
                    "verify_key = EXCLUDED.verify_key, valid_until_ts = EXCLUDED.valid_until_ts, "
                    "expired_ts = EXCLUDED.expired_ts, fetched_ts = EXCLUDED.fetched_ts, "
                    "from_server = EXCLUDED.from_server, key_json = EXCLUDED.key_json "
                    "WHERE federation_server_keys.valid_until_ts <= EXCLUDED.valid_until_ts",
                    k.server_name,
                    k.key_id,
                    encode_base64(k.verify_key),
                    k.valid_until_ts,
                    k.expired_ts,
                    k.fetched_ts,
                    k.from_server,
                    blob,
                )

    async def keys_for(self, server_name: str) -> list[ServerKey]:
        """Every key remembered for ``server_name``."""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM federation_server_keys WHERE server_name = $1",
            server_name,
        )
        return [_key(r) for r in rows]

    async def responses_for(self, server_name: str) -> list[StoredResponse]:
        """The distinct signed responses remembered for ``server_name``, newest first."""
        rows = await self._db.fetchall(
            "SELECT key_json, valid_until_ts, fetched_ts, from_server "
            "FROM federation_server_keys WHERE server_name = $1 "
            "ORDER BY valid_until_ts DESC, key_id",
            server_name,
        )
        seen: set[str] = set()
        out: list[StoredResponse] = []
        for row in rows:
            text = str(row[0])
            if text in seen:
                continue
            seen.add(text)
            value = orjson.loads(text)
            if isinstance(value, dict):
                out.append(StoredResponse(value, int(row[1]), int(row[2]), str(row[3])))
        return out

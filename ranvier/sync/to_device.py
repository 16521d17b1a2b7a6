"""Send-to-device messages: stored per recipient device until a sync acknowledges them
(client-server-api "Send-to-Device messaging", to_device.yaml, "Server behaviour").

Theory of operation
-------------------
``PUT /sendToDevice/{eventType}/{txnId}`` calls :meth:`ToDeviceStore.send`, which in
one transaction records the transaction id (a repeat of the same sending device and
txn id stores nothing: idempotency, "Transaction identifiers"), takes the next position
of the ``to_device`` stream (``UPDATE ... RETURNING`` on ``sync_stream_positions``), and
inserts one ``to_device_inbox`` row per recipient device, ``*`` expanding to every
device the user has. After the commit the listeners (the sync notifier) hear the
recipients and the position.

A sync for a device reads the rows after its token's ``to_device`` position, oldest
first, at most :data:`MAX_PER_SYNC` ("100 messages is recommended"), and returns the
position of the last one in ``next_batch``. When the client then syncs with that token,
the rows at or before it have been delivered and :meth:`ToDeviceStore.acknowledge`
deletes them. Messages for users of other servers go to the ``remote`` sink of
:meth:`ToDeviceStore.send` (the federation sender, :mod:`ranvier.e2ee.federation_out`),
once per transaction id.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson

from ranvier.core.events import JsonDict
from ranvier.db import Database
from ranvier.users.devices import DeviceStore

MAX_PER_SYNC = 100
TXN_RETENTION_MS = 24 * 3600 * 1000
"""How long a sending device's transaction ids are remembered."""

RemoteSink = Callable[[Mapping[str, Mapping[str, Any]]], Awaitable[None]]
"""``await sink(messages)``: the messages of a new transaction for remote users."""

ToDeviceListener = Callable[[list[str], int], Awaitable[None]]
"""``await listener(recipient_user_ids, position)`` after a committed send."""


class ToDeviceStore:
    """The ``to_device_inbox`` table and its stream."""

    def __init__(self, db: Database, devices: DeviceStore) -> None:
        self.db = db
        self.devices = devices
        self._listeners: list[ToDeviceListener] = []

    def add_listener(self, listener: ToDeviceListener) -> None:
        """Call ``listener`` after every committed send."""
        self._listeners.append(listener)

    async def current_position(self) -> int:
        """The latest position handed out."""
        row = await self.db.fetchone(
            "SELECT position FROM sync_stream_positions WHERE stream = 'to_device'"
        )
        return 0 if row is None else int(row[0])

    async def _recipients(
        self, messages: Mapping[str, Mapping[str, Any]], is_local: Callable[[str], bool]
    ) -> list[tuple[str, str, JsonDict]]:
        out: list[tuple[str, str, JsonDict]] = []
        for user_id, by_device in messages.items():
            if not is_local(user_id):
                continue
            known = {d.device_id for d in await self.devices.all_for(user_id)}
            targets: dict[str, JsonDict] = {}
            star = by_device.get("*")
            if isinstance(star, dict):
                targets = dict.fromkeys(known, star)
            for device_id, content in by_device.items():
                if device_id != "*" and device_id in known and isinstance(content, dict):
                    targets[device_id] = content
            out.extend((user_id, d, c) for d, c in sorted(targets.items()))
        return out

    async def send(
        self,
        sender: str,
        sender_device: str,
        txn_id: str,
        event_type: str,
        messages: Mapping[str, Mapping[str, Any]],
        is_local: Callable[[str], bool],
        remote: RemoteSink | None = None,
    ) -> int | None:
        """Store the messages; return the stream position, or None for a repeated
        transaction id or when no local device receives anything. When the
        transaction id is new, ``remote`` (if given) is then awaited with the messages
        for users of other servers (federation sends them)."""
        rows = await self._recipients(messages, is_local)
        now = int(time.time() * 1000)
        position: int | None = None
        async with self.db.transaction() as conn:
            await conn.execute(
                "DELETE FROM to_device_txns WHERE user_id = $1 AND device_id = $2"
                " AND created_ts < $3",
                sender,
                sender_device,
                now - TXN_RETENTION_MS,
            )
            inserted = await conn.fetchone(
                "INSERT INTO to_device_txns (user_id, device_id, txn_id, created_ts)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING txn_id",
                sender,
                sender_device,
                txn_id,
                now,
            )
            if inserted is None:
                return None
            if rows:
                row = await conn.fetchone(
                    "UPDATE sync_stream_positions SET position = position + 1"
                    " WHERE stream = 'to_device' RETURNING position"
                )
                assert row is not None
                position = int(row[0])
                await conn.executemany(
                    "INSERT INTO to_device_inbox (user_id, device_id, stream_id, sender,"
                    " event_type, content) VALUES ($1, $2, $3, $4, $5, $6)",
                    [
                        (user_id, device_id, position, sender, event_type, orjson.dumps(c).decode())
                        for user_id, device_id, c in rows
                    ],
                )
        if remote is not None:
            others = {u: m for u, m in messages.items() if not is_local(u)}
            if others:
                await remote(others)
        if position is None:
            return None
        users = sorted({r[0] for r in rows})
        for listener in self._listeners:
            await listener(users, position)
        return position

    async def pending(
        self, user_id: str, device_id: str, after: int, upto: int, limit: int = MAX_PER_SYNC
    ) -> list[tuple[int, JsonDict]]:
        """``(position, event)`` of the device's messages in ``(after, upto]``, oldest
        first, at most ``limit``."""
        rows = await self.db.fetchall(
            "SELECT stream_id, sender, event_type, content FROM to_device_inbox"
            " WHERE user_id = $1 AND device_id = $2 AND stream_id > $3 AND stream_id <= $4"
            " ORDER BY stream_id LIMIT $5",
            user_id,
            device_id,
            after,
            upto,
            limit,
        )
        return [
            (int(r[0]), {"sender": r[1], "type": r[2], "content": orjson.loads(r[3])}) for r in rows
        ]

    async def acknowledge(self, user_id: str, device_id: str, upto: int) -> int:
        """Delete the device's messages at or before ``upto`` (delivered); return how many."""
        if upto <= 0:
            return 0
        return await self.db.execute(
            "DELETE FROM to_device_inbox WHERE user_id = $1 AND device_id = $2 AND stream_id <= $3",
            user_id,
            device_id,
            upto,
        )

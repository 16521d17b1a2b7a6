"""Backfilling: fetching a room's older history from other servers when a client pages
past what this server holds.

Spec: server-server-api "Backfilling and retrieving missing events" (``GET /backfill``,
backfill.yaml), "Server Access Control Lists (ACLs)"; client-server-api "Getting events
for a room" (``/messages``).

Theory of operation
-------------------
A server that joined a room late holds the room from its join on (the state it was
given is outliers, not timeline); a server that was away may hold a gap. The room's
**backward extremities** are the events it has in the DAG whose ``prev_events`` it does
not (or holds only as outliers). :meth:`Backfiller.backfill` looks for them among the
room's oldest events (lowest stream positions, :data:`SCAN` of them, which is where a
late join or an earlier backfill leaves them) and asks the servers in the room (joined
members' servers in the current state, not this one, none the room's ACL denies; the
room id's server first, as it is likely to hold the most) for ``/backfill`` from those
prev events, ``limit`` events at most. The answer is processed oldest first (by depth)
through :meth:`~ranvier.rooms.remote.RemoteInput.receive_backfilled`: every check of a
received PDU, then stored below the room's history with the current state and forward
extremities untouched: the batch reserves as many stream positions below zero as it has
new events, and the oldest takes the lowest, so ``/messages`` reads it in DAG order.

:mod:`ranvier.sync.pagination` calls :meth:`Backfiller.backfill` when a backwards
``/messages`` page comes back short, then reads the page again. A room whose backward
extremities gave nothing (the create event reached, servers without more history) is
not asked again for :data:`RETRY_AFTER_S` seconds for the same extremities, so paging at
the start of a room costs one database scan, not a request each time.
"""

from __future__ import annotations

import logging
import time

from ranvier.core.events import JsonDict
from ranvier.core.hashes import compute_event_id
from ranvier.core.ids import InvalidIdentifier, server_name_of
from ranvier.federation.client import FederationError
from ranvier.federation.fetcher import FederationEventSource
from ranvier.federation.room_data import MAX_BACKFILL, RoomData
from ranvier.rooms.event_store import RoomInfo
from ranvier.rooms.remote import PduDropped, RemoteInput

logger = logging.getLogger(__name__)

SCAN = 50
"""The room's oldest events examined for missing prev events."""
MAX_EXTREMITIES = 20
"""Event ids sent in one ``/backfill`` request."""
RETRY_AFTER_S = 60.0


class Backfiller:
    """Fetches older room history from other servers (module docstring)."""

    def __init__(self, remote: RemoteInput, source: FederationEventSource, data: RoomData) -> None:
        self.remote = remote
        self.storage = remote.storage
        self.events = remote.storage.events
        self.source = source
        self.data = data
        self.server_name = data.server_name
        self._fruitless: dict[tuple[str, tuple[str, ...]], float] = {}
        self.stored = 0
        """Events stored by backfill (for tests and metrics)."""

    async def backward_extremities(self, room: RoomInfo) -> list[str]:
        """Ids of prev events missing behind the room's oldest events."""
        rows = await self.storage.db.fetchall(
            "SELECT event_nid FROM events WHERE room_nid = $1 AND NOT outlier AND NOT rejected"
            " ORDER BY stream_ordering LIMIT $2",
            room.nid,
            SCAN,
        )
        found = await self.events.get_by_nids(int(r[0]) for r in rows)
        missing: dict[str, None] = {}
        for stored in sorted(found.values(), key=lambda s: s.stream_ordering):
            for prev_id in stored.event.prev_event_ids:
                prev = await self.events.get_by_id(prev_id)
                if prev is None or await self.remote.store.is_outlier(prev.nid):
                    missing[prev_id] = None
        return list(missing)[:MAX_EXTREMITIES]

    async def _servers(self, room: RoomInfo) -> list[str]:
        servers = await self.data.servers_in_room(room)
        try:
            first = server_name_of(room.room_id)
        except (InvalidIdentifier, ValueError):
            first = None
        ordered = sorted(servers, key=lambda s: (s != first, s))
        out = []
        for server in ordered:
            if server != self.server_name and await self.data.acl_allows(room, server):
                out.append(server)
        return out

    async def backfill(self, room_id: str, limit: int) -> int:
        """Fetch up to ``limit`` older events of ``room_id``; return how many were
        stored (0: nothing to fetch, or nobody had more)."""
        room = await self.events.get_room(room_id)
        if room is None:
            return 0
        extremities = await self.backward_extremities(room)
        if not extremities:
            return 0
        key = (room.room_id, tuple(sorted(extremities)))
        now = time.monotonic()
        if now - self._fruitless.get(key, -RETRY_AFTER_S) < RETRY_AFTER_S:
            return 0
        limit = max(1, min(limit, MAX_BACKFILL))
        for server in await self._servers(room):
            try:
                pdus = await self.source.backfill(server, room.room_id, extremities, limit)
            except (FederationError, ValueError) as exc:
                logger.info("backfill of %s from %s failed: %r", room.room_id, server, exc)
                continue
            count = await self._store(server, room, pdus)
            if count:
                self.stored += count
                return count
        self._fruitless[key] = now
        return 0

    async def _store(self, origin: str, room: RoomInfo, pdus: list[JsonDict]) -> int:
        ordered = sorted(
            (p for p in pdus if isinstance(p.get("depth"), int)),
            key=lambda p: (p["depth"], str(p.get("origin_server_ts"))),
        )
        fresh: list[JsonDict] = []
        for pdu in ordered:
            try:
                known = await self.events.get_by_id(compute_event_id(pdu, room.room_version))
            except (KeyError, TypeError, ValueError):
                continue
            if known is None or await self.remote.store.is_outlier(known.nid):
                fresh.append(pdu)
        if not fresh:
            return 0
        lowest = await self.remote.store.reserve_backfill_positions(len(fresh))
        count = 0
        for offset, pdu in enumerate(fresh):
            try:
                outcome = await self.remote.receive_backfilled(origin, room, pdu, lowest + offset)
            except PduDropped as exc:
                logger.info("backfilled event from %s dropped: %s", origin, exc)
                continue
            if outcome.status == "accepted":
                count += 1
        return count

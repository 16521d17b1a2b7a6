"""The events table and the per-room indexes around it, written in one transaction.

Theory of operation
-------------------
:meth:`EventStore.persist` stores one event and everything that changes with it in ONE
transaction, so a crash leaves either all of it or none of it:

1. the ``rooms`` row (for a create event);
2. the next global stream position (``stream_positions``: an ``UPDATE ... RETURNING``
   whose row lock is held to the commit, so positions become visible in increasing
   order on PostgreSQL too -- what sync needs to never miss an event; the price is
   that commits, not checks, are serialised across rooms);
3. the ``events`` row (JSON, NIDs, depth, stream position, flags, the snapshot ids
   of the state before and after it);
4. for a state event, the new snapshot (:mod:`ranvier.rooms.state_store`);
5. forward extremities (the event replaces its ``prev_events``), the room's current
   snapshot, the membership index, and the client transaction id;
6. the persist hooks (:data:`PersistHook`: the relations index, redactions), in the
   order they were added, on the same connection.

Caches (events by NID and id, the state snapshots) are filled only after the commit;
the cached copies of other events a hook changed are dropped then.

The room's *heads* -- its current snapshot id and its forward extremities -- are read
for every event sent, so they are cached per room too. Every write of them happens in
the room's queue (:mod:`ranvier.rooms.queue`): :meth:`EventStore.persist` updates the
cached heads after its commit, and any other writer of ``rooms.current_snapshot_nid``
or ``room_forward_extremities`` must call :meth:`EventStore.invalidate_heads` after its
write. A read that missed the cache stores its answer only if no write to the room
was recorded while it waited for the database (a generation count per room), so a slow
read can never put an older value back over a newer one.

A redacted event (``redacted_by`` set) is read in its redacted form for the room
version (:func:`ranvier.core.redaction.redact`; client-server-api "Redactions": it
"is thereafter returned anytime a client or remote server requests it"), so the
room state, auth checks and clients all see the redacted content; the original JSON
stays in the row.
Reads used by the room service live here too: events by id or NID, extremities,
memberships, transaction ids.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import orjson

from ranvier.core.events import Event
from ranvier.core.redaction import redact
from ranvier.core.room_versions import RoomVersion, get_room_version
from ranvier.db import Connection, Database
from ranvier.rooms.lru import LruCache
from ranvier.rooms.state_store import NidKey, Snapshot, StateStore


@dataclass(frozen=True, slots=True)
class RoomInfo:
    """A room known to this server."""

    nid: int
    room_id: str
    room_version: RoomVersion
    creator: str


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event with what the store knows about it."""

    event: Event
    nid: int
    room_nid: int
    stream_ordering: int
    rejected: bool
    soft_failed: bool
    redacted_by: int | None
    state_before_nid: int
    state_after_nid: int


@dataclass(frozen=True, slots=True)
class NewEvent:
    """Everything :meth:`EventStore.persist` writes for one event."""

    event: Event
    room: RoomInfo | None
    """The event's room; None for a create event (the room row is made with it)."""
    type_nid: int
    state_key_nid: int | None
    state_before: Snapshot
    prev_nids: Sequence[int]
    """NIDs of the event's ``prev_events`` (no longer forward extremities)."""
    txn: tuple[str, str, str] | None = None
    """``(user_id, device_id, txn_id)`` of a client send, for idempotency."""
    txn_scope: str = ""
    """The endpoint ``txn`` belongs to (``"send <type>"``, ``"redact <event id>"``):
    client-server-api "Transaction identifiers" scopes them per device and endpoint."""


@dataclass(frozen=True, slots=True)
class Persisted:
    """The outcome of :meth:`EventStore.persist`."""

    stored: StoredEvent
    room: RoomInfo
    state_after: Snapshot


PersistHook = Callable[[Connection, NewEvent, StoredEvent], Awaitable[Iterable[int]]]
"""``await hook(conn, new, stored)`` runs inside :meth:`EventStore.persist`'s transaction
after the event's own rows are written; it returns the NIDs of other events whose rows
it changed (their cached copies are dropped after the commit)."""

_EVENT_COLUMNS = (
    "e.event_nid, e.event_id, e.room_nid, e.stream_ordering, e.json, e.rejected,"
    " e.soft_failed, e.redacted_by, e.state_before_nid, e.state_after_nid, r.room_version"
)


async def set_membership(
    conn: Connection | Database,
    room_nid: int,
    user_id: str,
    membership: str,
    event_nid: int,
    stream: int,
) -> None:
    """Record ``user_id``'s current ``membership`` of a room in ``room_memberships``
    (the member event's nid and stream position), replacing the previous row.

    A state key holding U+0000 is no user ID (appendices "User Identifiers") and
    PostgreSQL's ``TEXT`` cannot store it: no row, on either database."""
    if "\x00" in user_id or "\x00" in membership:
        return
    await conn.execute(
        "INSERT INTO room_memberships (room_nid, user_id, membership, event_nid,"
        " stream_ordering) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (room_nid, user_id) DO UPDATE SET"
        " membership = excluded.membership, event_nid = excluded.event_nid,"
        " stream_ordering = excluded.stream_ordering",
        room_nid,
        user_id,
        membership,
        event_nid,
        stream,
    )


class EventStore:
    """Persistence of events, rooms and their indexes."""

    def __init__(self, db: Database, state: StateStore, cache_size: int = 20_000) -> None:
        self.db = db
        self.state = state
        self._by_nid: LruCache[int, StoredEvent] = LruCache(cache_size)
        self._nid_of: LruCache[str, int] = LruCache(cache_size)
        self._rooms: dict[str, RoomInfo] = {}
        self._current_nid: dict[int, int] = {}
        self._extremities: dict[int, tuple[int, ...]] = {}
        self._heads_gen: dict[int, int] = {}
        """Writes of each room's heads so far (see the module docstring)."""
        self.hooks: list[PersistHook] = []
        """Run by :meth:`persist` in its transaction, in order (see :data:`PersistHook`)."""

    # ---- rooms ----------------------------------------------------------------------

    async def get_room(self, room_id: str) -> RoomInfo | None:
        """The room ``room_id`` if this server knows it."""
        info = self._rooms.get(room_id)
        if info is not None:
            return info
        if "\x00" in room_id:  # no room id holds NUL, and PostgreSQL would refuse the query
            return None
        row = await self.db.fetchone(
            "SELECT room_nid, room_version, creator FROM rooms WHERE room_id = $1", room_id
        )
        if row is None:
            return None
        info = RoomInfo(int(row[0]), room_id, get_room_version(row[1]), row[2])
        self._rooms[room_id] = info
        return info

    async def current_snapshot_nid(self, room_nid: int) -> int:
        """The snapshot id of the room's current state (cached: module docstring)."""
        cached = self._current_nid.get(room_nid)
        if cached is not None:
            return cached
        gen = self._heads_gen.get(room_nid, 0)
        row = await self.db.fetchone(
            "SELECT current_snapshot_nid FROM rooms WHERE room_nid = $1", room_nid
        )
        if row is None:
            return 0
        nid = int(row[0])
        if self._heads_gen.get(room_nid, 0) == gen:
            self._current_nid[room_nid] = nid
        return nid

    def invalidate_heads(self, room_nid: int) -> None:
        """Forget the cached heads of a room: call after writing its current snapshot id
        or its forward extremities anywhere but in :meth:`persist`."""
        self._heads_gen[room_nid] = self._heads_gen.get(room_nid, 0) + 1
        self._current_nid.pop(room_nid, None)
        self._extremities.pop(room_nid, None)

    def _advance_heads(
        self, room_nid: int, snapshot_nid: int, prev: Sequence[int], nid: int
    ) -> None:
        """After :meth:`persist` committed event ``nid`` on ``prev``: the room's new heads."""
        self._heads_gen[room_nid] = self._heads_gen.get(room_nid, 0) + 1
        self._current_nid[room_nid] = snapshot_nid
        old = self._extremities.get(room_nid)
        if old is not None:
            gone = set(prev)
            self._extremities[room_nid] = tuple(sorted([e for e in old if e not in gone] + [nid]))

    async def set_published(self, room_nid: int, published: bool) -> None:
        """Publish the room in (or remove it from) the room directory."""
        await self.db.execute(
            "UPDATE rooms SET published = $1 WHERE room_nid = $2", published, room_nid
        )

    async def is_published(self, room_nid: int) -> bool:
        """Whether the room is published in the room directory."""
        row = await self.db.fetchone("SELECT published FROM rooms WHERE room_nid = $1", room_nid)
        return bool(row and row[0])

    async def forward_extremities(self, room_nid: int) -> list[int]:
        """NIDs of the room's forward extremities (events with no children yet), in
        increasing order (cached: module docstring)."""
        cached = self._extremities.get(room_nid)
        if cached is not None:
            return list(cached)
        gen = self._heads_gen.get(room_nid, 0)
        rows = await self.db.fetchall(
            "SELECT event_nid FROM room_forward_extremities WHERE room_nid = $1 ORDER BY event_nid",
            room_nid,
        )
        nids = [int(r[0]) for r in rows]
        if self._heads_gen.get(room_nid, 0) == gen:
            self._extremities[room_nid] = tuple(nids)
        return nids

    # ---- writing --------------------------------------------------------------------

    async def persist(self, new: NewEvent) -> Persisted:
        """Store ``new`` atomically (see the module docstring); return what was stored."""
        try:
            persisted = await self._persist(new)
        except BaseException:
            if new.room is not None:  # a failed COMMIT may or may not have happened
                self.invalidate_heads(new.room.nid)
            raise
        stored, after = persisted.stored, persisted.state_after
        self._advance_heads(stored.room_nid, after.nid, new.prev_nids, stored.nid)
        return persisted

    async def _persist(self, new: NewEvent) -> Persisted:
        ev = new.event
        async with self.db.transaction() as conn:
            room = new.room
            if room is None:
                rv = ev.room_version
                row = await conn.fetchone(
                    "INSERT INTO rooms (room_id, room_version, creator, created_ts)"
                    " VALUES ($1, $2, $3, $4) RETURNING room_nid",
                    ev.room_id,
                    rv.identifier,
                    ev.sender,
                    ev.origin_server_ts,
                )
                assert row is not None
                room = RoomInfo(int(row[0]), ev.room_id, rv, ev.sender)
            row = await conn.fetchone(
                "UPDATE stream_positions SET position = position + 1"
                " WHERE stream = 'events' RETURNING position"
            )
            assert row is not None
            stream = int(row[0])
            before = new.state_before
            row = await conn.fetchone(
                "INSERT INTO events (event_id, room_nid, type_nid, state_key_nid, depth,"
                " stream_ordering, origin_server_ts, sender, json, state_before_nid,"
                " state_after_nid) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)"
                " RETURNING event_nid",
                ev.event_id,
                room.nid,
                new.type_nid,
                new.state_key_nid,
                ev.depth,
                stream,
                ev.origin_server_ts,
                ev.sender,
                orjson.dumps(ev.pdu).decode(),
                before.nid,
            )
            assert row is not None
            event_nid = int(row[0])
            after = before
            if new.state_key_nid is not None:
                key: NidKey = (new.type_nid, new.state_key_nid)
                after = await self.state.write(conn, room.nid, before, {key: event_nid})
                await conn.execute(
                    "UPDATE events SET state_after_nid = $1 WHERE event_nid = $2",
                    after.nid,
                    event_nid,
                )
            if new.prev_nids:
                await conn.executemany(
                    "DELETE FROM room_forward_extremities WHERE room_nid = $1 AND event_nid = $2",
                    [(room.nid, p) for p in new.prev_nids],
                )
            await conn.execute(
                "INSERT INTO room_forward_extremities (room_nid, event_nid) VALUES ($1, $2)",
                room.nid,
                event_nid,
            )
            if after.nid != before.nid:
                await conn.execute(
                    "UPDATE rooms SET current_snapshot_nid = $1 WHERE room_nid = $2",
                    after.nid,
                    room.nid,
                )
            membership = ev.membership if ev.type == "m.room.member" else None
            if membership is not None and ev.state_key is not None:
                await set_membership(conn, room.nid, ev.state_key, membership, event_nid, stream)
            if new.txn is not None:
                user_id, device_id, txn_id = new.txn
                await conn.execute(
                    "INSERT INTO event_txn_ids"
                    " (user_id, device_id, room_nid, scope, txn_id, event_nid)"
                    " VALUES ($1, $2, $3, $4, $5, $6)",
                    user_id,
                    device_id,
                    room.nid,
                    new.txn_scope,
                    txn_id,
                    event_nid,
                )
            stored = StoredEvent(
                ev, event_nid, room.nid, stream, False, False, None, before.nid, after.nid
            )
            changed: list[int] = []
            for hook in self.hooks:
                changed.extend(await hook(conn, new, stored))
        # Committed: now the caches may learn about it.
        self._by_nid.put(event_nid, stored)
        for nid in changed:
            self._by_nid.discard(nid)
        self._nid_of.put(ev.event_id, event_nid)
        self._rooms[room.room_id] = room
        self.state.remember(after)
        return Persisted(stored, room, after)

    # ---- reading events -------------------------------------------------------------

    def _row_to_stored(self, row: Sequence[object]) -> StoredEvent:
        rv = get_room_version(str(row[10]))
        pdu = orjson.loads(str(row[4]))
        redacted_by = row[7]
        if redacted_by is not None:
            pdu = redact(pdu, rv)
        event = Event(pdu, rv, str(row[1]))
        return StoredEvent(
            event,
            int(row[0]),  # type: ignore[call-overload]
            int(row[2]),  # type: ignore[call-overload]
            int(row[3]),  # type: ignore[call-overload]
            bool(row[5]),
            bool(row[6]),
            None if redacted_by is None else int(redacted_by),  # type: ignore[call-overload]
            int(row[8]),  # type: ignore[call-overload]
            int(row[9]),  # type: ignore[call-overload]
        )

    async def get_by_id(self, event_id: str) -> StoredEvent | None:
        """The stored event ``event_id``, or None."""
        nid = self._nid_of.get(event_id)
        if nid is not None:
            cached = self._by_nid.get(nid)
            if cached is not None:
                return cached
        if "\x00" in event_id:  # no event id holds NUL, and PostgreSQL would refuse the query
            return None
        row = await self.db.fetchone(
            f"SELECT {_EVENT_COLUMNS} FROM events e JOIN rooms r ON r.room_nid = e.room_nid"
            " WHERE e.event_id = $1",
            event_id,
        )
        if row is None:
            return None
        stored = self._row_to_stored(row)
        self._by_nid.put(stored.nid, stored)
        self._nid_of.put(event_id, stored.nid)
        return stored

    async def get_by_nids(self, nids: Iterable[int]) -> dict[int, StoredEvent]:
        """The stored events with these NIDs (unknown NIDs are left out)."""
        out: dict[int, StoredEvent] = {}
        missing: list[int] = []
        for nid in nids:
            cached = self._by_nid.get(nid)
            if cached is None:
                missing.append(nid)
            else:
                out[nid] = cached
        for i in range(0, len(missing), 500):
            chunk = missing[i : i + 500]
            marks = ", ".join(f"${j + 1}" for j in range(len(chunk)))
            rows = await self.db.fetchall(
                f"SELECT {_EVENT_COLUMNS} FROM events e JOIN rooms r ON r.room_nid = e.room_nid"
                f" WHERE e.event_nid IN ({marks})",
                *chunk,
            )
            for row in rows:
                stored = self._row_to_stored(row)
                self._by_nid.put(stored.nid, stored)
                self._nid_of.put(stored.event.event_id, stored.nid)
                out[stored.nid] = stored
        return out

    # ---- memberships ----------------------------------------------------------------

    async def rooms_of_user(self, user_id: str, membership: str) -> list[str]:
        """Ids of the rooms where ``user_id``'s current membership is ``membership``."""
        rows = await self.db.fetchall(
            "SELECT r.room_id FROM room_memberships m JOIN rooms r ON r.room_nid = m.room_nid"
            " WHERE m.user_id = $1 AND m.membership = $2 ORDER BY r.room_id",
            user_id,
            membership,
        )
        return [str(r[0]) for r in rows]

    async def members(self, room_nid: int) -> list[tuple[str, str, int]]:
        """``(user_id, membership, event_nid)`` of every user with a membership in the room."""
        rows = await self.db.fetchall(
            "SELECT user_id, membership, event_nid FROM room_memberships WHERE room_nid = $1"
            " ORDER BY user_id",
            room_nid,
        )
        return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]

    async def membership_of(self, room_nid: int, user_id: str) -> str | None:
        """``user_id``'s current membership in the room, or None."""
        row = await self.db.fetchone(
            "SELECT membership FROM room_memberships WHERE room_nid = $1 AND user_id = $2",
            room_nid,
            user_id,
        )
        return None if row is None else str(row[0])

    async def joined_after(self, room_nid: int, user_id: str, stream_ordering: int) -> bool:
        """Whether ``user_id`` joined the room at a stream position after ``stream_ordering``
        (client-server-api "History visibility", rule 3 for ``shared``)."""
        rows = await self.db.fetchall(
            "SELECT e.json FROM events e JOIN event_type_nids t ON t.type_nid = e.type_nid"
            " JOIN state_key_nids k ON k.state_key_nid = e.state_key_nid"
            " WHERE e.room_nid = $1 AND t.event_type = 'm.room.member' AND k.state_key = $2"
            " AND e.stream_ordering > $3 AND NOT e.rejected",
            room_nid,
            user_id,
            stream_ordering,
        )
        return any(
            orjson.loads(str(r[0])).get("content", {}).get("membership") == "join" for r in rows
        )

    # ---- transaction ids ------------------------------------------------------------

    async def event_for_txn(
        self, user_id: str, device_id: str, room_nid: int, txn_id: str, scope: str = ""
    ) -> str | None:
        """The event id sent earlier with this transaction id to the endpoint ``scope``
        (see :attr:`NewEvent.txn_scope`), or None."""
        row = await self.db.fetchone(
            "SELECT e.event_id FROM event_txn_ids t JOIN events e ON e.event_nid = t.event_nid"
            " WHERE t.user_id = $1 AND t.device_id = $2 AND t.room_nid = $3 AND t.scope = $4"
            " AND t.txn_id = $5",
            user_id,
            device_id,
            room_nid,
            scope,
            txn_id,
        )
        return None if row is None else str(row[0])

    async def txn_of_event(self, event_nid: int, user_id: str, device_id: str) -> str | None:
        """The transaction id with which ``user_id``'s device sent the event, or None."""
        row = await self.db.fetchone(
            "SELECT txn_id FROM event_txn_ids WHERE event_nid = $1 AND user_id = $2"
            " AND device_id = $3",
            event_nid,
            user_id,
            device_id,
        )
        return None if row is None else str(row[0])

    async def txn_ids_of(
        self, event_nids: Sequence[int], user_id: str, device_id: str
    ) -> dict[int, str]:
        """``{event_nid: txn_id}`` of those events ``user_id``'s device sent with a
        transaction id (one query per 500 events)."""
        out: dict[int, str] = {}
        for i in range(0, len(event_nids), 500):
            chunk = event_nids[i : i + 500]
            marks = ", ".join(f"${j + 3}" for j in range(len(chunk)))
            rows = await self.db.fetchall(
                "SELECT event_nid, txn_id FROM event_txn_ids WHERE user_id = $1"
                f" AND device_id = $2 AND event_nid IN ({marks})",
                user_id,
                device_id,
                *chunk,
            )
            out.update((int(r[0]), str(r[1])) for r in rows)
        return out

    async def stream_position(self) -> int:
        """The highest stream position committed so far."""
        row = await self.db.fetchone(
            "SELECT position FROM stream_positions WHERE stream = 'events'"
        )
        return 0 if row is None else int(row[0])

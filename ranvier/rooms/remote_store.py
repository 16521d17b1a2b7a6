"""Persisting events that came from other servers: outliers and DAG events with forks.

Spec: server-server-api "Checks performed on receipt of a PDU", "Rejection", "Soft
failure", "Room State Resolution".

Theory of operation
-------------------
The local pipeline's :meth:`~ranvier.rooms.event_store.EventStore.persist` assumes a
linear history (the event's state after becomes the room's current state). Remote
events can fork the DAG, be rejected, be soft failed, or be known only by reference,
so they are written here, in one transaction each, on the same tables:

* an **outlier** (:meth:`RemoteStore.persist_outlier`) is an event we hold only
  because another event points at it (an auth event, a state event of a gap's
  ``/state_ids``). It has no state of its own (snapshot ids 0), is no forward
  extremity, changes no state, and is stored ``soft_failed`` so nothing shows it to
  clients; its ``outlier`` flag (migration 0700) tells it apart. When the event later
  arrives in the DAG, its row is updated in place (new stream position, state ids,
  flags) and its cached copy dropped;
* a **DAG event** (:meth:`RemoteStore.persist_event`) gets a stream position, its
  state before (computed by the caller from its prev events) and after (not
  updated by a rejected event: "Rejection"). Accepted, not soft-failed events
  replace their ``prev_events`` as forward extremities (soft-failed and rejected
  events never become extremities: "Soft failure"). The room's new current state is
  passed in by the caller (resolved across the forward extremities); it is written as
  a delta on the old current snapshot, and the membership index follows the
  membership keys that changed between the two. The persist hooks of the event
  store (relations, redactions) run for accepted events as for local ones;
* a **backfilled** event (older than what the room had) is a DAG event with a stream
  position below zero (reserved per batch, counting down, migration 0750), so it sorts
  before the room's history, and it never changes the forward extremities or the current
  state.

A new room joined over federation starts with :meth:`RemoteStore.create_room` and a
base snapshot of the state the resident server gave (:meth:`write_state`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import orjson

from ranvier.core.events import Event
from ranvier.core.room_versions import RoomVersion
from ranvier.db import Connection
from ranvier.rooms.event_store import (
    NewEvent,
    Persisted,
    RoomInfo,
    StoredEvent,
    set_membership,
)
from ranvier.rooms.state_store import NidKey, Snapshot, StateMap
from ranvier.rooms.storage import RoomStorage


@dataclass(frozen=True, slots=True)
class RemoteEvent:
    """What :meth:`RemoteStore.persist_event` writes for one DAG event."""

    event: Event
    room: RoomInfo
    state_before: Snapshot
    rejected: bool = False
    soft_failed: bool = False
    current: StateMap | None = None
    """The room's new current state (None: unchanged). The event's own entry may be
    given as event NID 0 (its NID is not known before it is stored)."""
    old_current: Snapshot | None = None
    """The room's current state before this event (required with ``current``)."""
    backfill_position: int | None = None
    """For an event older than the room's history (``/backfill``): its stream
    position, below zero (:meth:`RemoteStore.reserve_backfill_positions`); it never
    becomes a forward extremity."""


async def _next_position(conn: Connection) -> int:
    row = await conn.fetchone(
        "UPDATE stream_positions SET position = position + 1"
        " WHERE stream = 'events' RETURNING position"
    )
    assert row is not None
    return int(row[0])


class RemoteStore:
    """Writes remote events (see the module docstring)."""

    def __init__(self, storage: RoomStorage) -> None:
        self.storage = storage
        self.db = storage.db
        self.events = storage.events

    # ---- reads ------------------------------------------------------------------------

    async def outliers(self, nids: Iterable[int]) -> set[int]:
        """Those of ``nids`` that are outliers."""
        wanted = list(nids)
        out: set[int] = set()
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ", ".join(f"${j + 1}" for j in range(len(chunk)))
            rows = await self.db.fetchall(
                f"SELECT event_nid FROM events WHERE outlier AND event_nid IN ({marks})", *chunk
            )
            out.update(int(r[0]) for r in rows)
        return out

    async def is_outlier(self, nid: int) -> bool:
        """Whether the event ``nid`` is an outlier."""
        return bool(await self.outliers([nid]))

    async def state_map_nids(self, state: Mapping[tuple[str, str], str]) -> dict[NidKey, int]:
        """Turn ``{(type, state_key): event_id}`` of stored events into a NID state map.
        Raises KeyError for an event that is not stored."""
        out: dict[NidKey, int] = {}
        for (event_type, state_key), event_id in state.items():
            stored = await self.events.get_by_id(event_id)
            if stored is None:
                raise KeyError(event_id)
            out[await self.storage.nids.assign_key(event_type, state_key)] = stored.nid
        return out

    # ---- writes -----------------------------------------------------------------------

    async def reserve_backfill_positions(self, count: int) -> int:
        """Reserve ``count`` stream positions below every one used so far, for a batch
        of backfilled events; return the lowest. The oldest event takes the lowest, so
        the batch sorts in its own order just before the history already held."""
        async with self.db.transaction() as conn:
            row = await conn.fetchone(
                "UPDATE stream_positions SET position = position - $1"
                " WHERE stream = 'backfill' RETURNING position",
                count,
            )
        assert row is not None
        return int(row[0])

    async def create_room(self, room_id: str, rv: RoomVersion, creator: str, ts: int) -> RoomInfo:
        """Make the ``rooms`` row of a room joined over federation (or return it)."""
        known = await self.events.get_room(room_id)
        if known is not None:
            return known
        await self.db.execute(
            "INSERT INTO rooms (room_id, room_version, creator, created_ts)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (room_id) DO NOTHING",
            room_id,
            rv.identifier,
            creator,
            ts,
        )
        room = await self.events.get_room(room_id)
        assert room is not None
        return room

    async def persist_outlier(
        self, room: RoomInfo, event: Event, *, rejected: bool = False
    ) -> StoredEvent:
        """Store ``event`` as an outlier (or return it if already stored)."""
        known = await self.events.get_by_id(event.event_id)
        if known is not None:
            return known
        type_nid = await self.storage.nids.types.assign(event.type)
        sk_nid = None
        if event.state_key is not None:
            sk_nid = await self.storage.nids.state_keys.assign(event.state_key)
        async with self.db.transaction() as conn:
            stream = await _next_position(conn)
            row = await conn.fetchone(
                "INSERT INTO events (event_id, room_nid, type_nid, state_key_nid, depth,"
                " stream_ordering, origin_server_ts, sender, json, state_before_nid,"
                " state_after_nid, rejected, soft_failed, outlier)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, 0, $10, TRUE, TRUE)"
                " ON CONFLICT (event_id) DO NOTHING RETURNING event_nid",
                event.event_id,
                room.nid,
                type_nid,
                sk_nid,
                event.depth,
                stream,
                event.origin_server_ts,
                event.sender,
                orjson.dumps(event.pdu).decode(),
                rejected,
            )
        stored = await self.events.get_by_id(event.event_id)
        assert stored is not None, row
        return stored

    async def write_state(self, room: RoomInfo, state: StateMap) -> Snapshot:
        """Write ``state`` as a base snapshot of ``room`` (the state a join starts from)."""
        async with self.db.transaction() as conn:
            snap = await self.storage.state.write_base(conn, room.nid, state)
        self.storage.state.remember(snap)
        return snap

    async def _member_changes(
        self, old: StateMap, new: StateMap, event: Event
    ) -> list[tuple[str, str, int]]:
        """``(user_id, membership, event_nid)`` for membership keys that differ (event NID
        0 stands for ``event`` itself)."""
        member_type = await self.storage.nids.types.lookup("m.room.member")
        if member_type is None:
            return []
        changed = {k: n for k, n in new.items() if k[0] == member_type and old.get(k) != n}
        if not changed:
            return []
        names = await self.storage.nids.state_keys.texts_of(k[1] for k in changed)
        found = await self.events.get_by_nids(n for n in changed.values() if n != 0)
        out: list[tuple[str, str, int]] = []
        for key, nid in changed.items():
            ev = event if nid == 0 else (found[nid].event if nid in found else None)
            if ev is not None and ev.membership is not None:
                out.append((names[key[1]], ev.membership, nid))
        return out

    async def persist_event(self, new: RemoteEvent) -> Persisted:
        """Store a DAG event (see the module docstring); return what was stored."""
        try:
            return await self._persist_event(new)
        finally:
            # The room's cached heads (current snapshot, extremities) may be stale now,
            # after a commit or a failure (EventStore's module docstring).
            self.events.invalidate_heads(new.room.nid)

    async def _persist_event(self, new: RemoteEvent) -> Persisted:
        ev, room, before = new.event, new.room, new.state_before
        type_nid = await self.storage.nids.types.assign(ev.type)
        sk_nid = None
        if ev.state_key is not None:
            sk_nid = await self.storage.nids.state_keys.assign(ev.state_key)
        prev_nids: list[int] = []
        for prev_id in ev.prev_event_ids:
            prev = await self.events.get_by_id(prev_id)
            if prev is not None:
                prev_nids.append(prev.nid)
        known = await self.events.get_by_id(ev.event_id)
        accepted = not new.rejected and not new.soft_failed
        members: list[tuple[str, str, int]] = []
        if new.current is not None:
            assert new.old_current is not None
            members = await self._member_changes(new.old_current.state, new.current, ev)
        hooks = self.events.hooks
        state = self.storage.state
        changed: list[int] = []
        async with self.db.transaction() as conn:
            if new.backfill_position is not None:
                stream = new.backfill_position
            else:
                stream = await _next_position(conn)
            if known is not None:
                await conn.execute(
                    "UPDATE events SET stream_ordering = $1, state_before_nid = $2,"
                    " state_after_nid = $2, rejected = $3, soft_failed = $4, outlier = FALSE"
                    " WHERE event_nid = $5",
                    stream,
                    before.nid,
                    new.rejected,
                    new.soft_failed,
                    known.nid,
                )
                event_nid = known.nid
            else:
                row = await conn.fetchone(
                    "INSERT INTO events (event_id, room_nid, type_nid, state_key_nid, depth,"
                    " stream_ordering, origin_server_ts, sender, json, state_before_nid,"
                    " state_after_nid, rejected, soft_failed) VALUES ($1, $2, $3, $4, $5, $6,"
                    " $7, $8, $9, $10, $10, $11, $12) RETURNING event_nid",
                    ev.event_id,
                    room.nid,
                    type_nid,
                    sk_nid,
                    ev.depth,
                    stream,
                    ev.origin_server_ts,
                    ev.sender,
                    orjson.dumps(ev.pdu).decode(),
                    before.nid,
                    new.rejected,
                    new.soft_failed,
                )
                assert row is not None
                event_nid = int(row[0])
            after = before
            if sk_nid is not None and not new.rejected:
                after = await state.write(conn, room.nid, before, {(type_nid, sk_nid): event_nid})
                await conn.execute(
                    "UPDATE events SET state_after_nid = $1 WHERE event_nid = $2",
                    after.nid,
                    event_nid,
                )
            if accepted and new.backfill_position is None:
                await conn.executemany(
                    "DELETE FROM room_forward_extremities WHERE room_nid = $1 AND event_nid = $2",
                    [(room.nid, p) for p in prev_nids],
                )
                await conn.execute(
                    "INSERT INTO room_forward_extremities (room_nid, event_nid) VALUES ($1, $2)"
                    " ON CONFLICT DO NOTHING",
                    room.nid,
                    event_nid,
                )
            current: Snapshot | None = None
            if new.current is not None:
                assert new.old_current is not None
                target = {k: (event_nid if n == 0 else n) for k, n in new.current.items()}
                if target == dict(after.state):
                    current = after
                elif target == dict(new.old_current.state):
                    current = new.old_current
                else:
                    current = await self._write_delta(conn, room.nid, new.old_current, target)
                await conn.execute(
                    "UPDATE rooms SET current_snapshot_nid = $1 WHERE room_nid = $2",
                    current.nid,
                    room.nid,
                )
                await self._index_members(conn, room.nid, members, event_nid, stream)
            stored = StoredEvent(
                ev,
                event_nid,
                room.nid,
                stream,
                new.rejected,
                new.soft_failed,
                None,
                before.nid,
                after.nid,
            )
            if accepted:
                hook_new = NewEvent(ev, room, type_nid, sk_nid, before, prev_nids)
                for hook in hooks:
                    changed.extend(await hook(conn, hook_new, stored))
        cache = self.events._by_nid
        cache.put(event_nid, stored)
        for nid in changed:
            cache.discard(nid)
        self.events._nid_of.put(ev.event_id, event_nid)
        state.remember(after)
        if current is not None:
            state.remember(current)
        return Persisted(stored, room, current or after)

    async def _write_delta(
        self, conn: Connection, room_nid: int, parent: Snapshot, target: Mapping[NidKey, int]
    ) -> Snapshot:
        changes: dict[NidKey, int] = {k: n for k, n in target.items() if parent.state.get(k) != n}
        for key in parent.state:
            if key not in target:
                changes[key] = 0
        return await self.storage.state.write(conn, room_nid, parent, changes)

    @staticmethod
    async def _index_members(
        conn: Connection,
        room_nid: int,
        members: Sequence[tuple[str, str, int]],
        event_nid: int,
        stream: int,
    ) -> None:
        for user_id, membership, nid in members:
            await set_membership(
                conn, room_nid, user_id, membership, event_nid if nid == 0 else nid, stream
            )

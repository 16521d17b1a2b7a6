"""Read queries of ``/sync``, ``/messages`` and ``/context`` over the rooms tables.

The rooms component (:mod:`ranvier.rooms.event_store`) owns the tables; this module
only reads them, with the indexes they have: ``events (room_nid, stream_ordering)``
for timelines and "the state at a position", ``events (room_nid, type_nid,
state_key_nid)`` for one user's membership history in a room, and ``room_memberships
(user_id, membership)`` for the rooms of a user. Events themselves are loaded through
:meth:`EventStore.get_by_nids`, so they come from (and fill) its cache.

Positions are those of the events stream (:mod:`ranvier.sync.tokens`): a range
``(after, upto]`` holds the events with ``after < stream_ordering <= upto``. Rejected
and soft-failed events are never part of a timeline or of the state read here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson

from ranvier.rooms.event_store import RoomInfo, StoredEvent
from ranvier.rooms.storage import RoomStorage

PAGE = 100
"""Rows fetched per query while paginating with a predicate."""
MIN_POSITION = -(2**62)
"""Below every stream position: backfilled events (history older than the room had,
:mod:`ranvier.federation.backfill`) have positions below zero."""


@dataclass(frozen=True, slots=True)
class MembershipAt:
    """A user's membership in a room as of a position."""

    room: RoomInfo
    membership: str
    stream_ordering: int
    event_nid: int


@dataclass(frozen=True, slots=True)
class Page:
    """Events read from a range, in the order asked for."""

    events: list[StoredEvent]
    next_position: int
    """Where a following read in the same direction starts."""
    exhausted: bool
    """True when the range holds no more events past ``next_position``."""


class SyncStore:
    """Reads for the sync streams (see the module docstring)."""

    def __init__(self, storage: RoomStorage) -> None:
        self.storage = storage
        self.db = storage.db
        self.events = storage.events

    async def _room_by_nid(self, room_nid: int, room_id: str) -> RoomInfo | None:
        info = await self.events.get_room(room_id)
        return info if info is not None and info.nid == room_nid else None

    async def memberships(self, user_id: str, upto: int) -> list[MembershipAt]:
        """Every room where ``user_id`` had a membership at position ``upto``, with it.

        The ``room_memberships`` index holds the current membership; a row that changed
        after ``upto`` is looked up again as of ``upto``.
        """
        rows = await self.db.fetchall(
            "SELECT m.room_nid, r.room_id, m.membership, m.stream_ordering, m.event_nid"
            " FROM room_memberships m JOIN rooms r ON r.room_nid = m.room_nid"
            " WHERE m.user_id = $1",
            user_id,
        )
        out: list[MembershipAt] = []
        for room_nid, room_id, membership, stream, event_nid in rows:
            room = await self._room_by_nid(int(room_nid), str(room_id))
            if room is None:
                continue
            if int(stream) <= upto:
                out.append(MembershipAt(room, str(membership), int(stream), int(event_nid)))
                continue
            earlier = await self.membership_events(room, user_id, upto)
            if earlier:
                stream_at, nid_at, m_at = earlier[-1]
                out.append(MembershipAt(room, m_at, stream_at, nid_at))
        return out

    async def membership_events(
        self, room: RoomInfo, user_id: str, upto: int | None = None
    ) -> list[tuple[int, int, str]]:
        """``(stream_ordering, event_nid, membership)`` of every ``m.room.member`` event
        about ``user_id`` in the room (at or before ``upto``), oldest first."""
        key = await self.storage.nids.lookup_key("m.room.member", user_id)
        if key is None:
            return []
        rows = await self.db.fetchall(
            "SELECT stream_ordering, event_nid, json FROM events WHERE room_nid = $1"
            " AND type_nid = $2 AND state_key_nid = $3 AND stream_ordering <= $4"
            " AND NOT rejected AND NOT soft_failed ORDER BY stream_ordering",
            room.nid,
            key[0],
            key[1],
            upto if upto is not None else 2**62,
        )
        out: list[tuple[int, int, str]] = []
        for stream, nid, text in rows:
            membership = orjson.loads(str(text)).get("content", {}).get("membership")
            out.append((int(stream), int(nid), str(membership)))
        return out

    async def join_times(self, room: RoomInfo, user_id: str) -> list[tuple[int, int]]:
        """``(stream_ordering, origin_server_ts)`` of each join of ``user_id`` to the
        room, oldest first."""
        key = await self.storage.nids.lookup_key("m.room.member", user_id)
        if key is None:
            return []
        rows = await self.db.fetchall(
            "SELECT stream_ordering, json FROM events WHERE room_nid = $1"
            " AND type_nid = $2 AND state_key_nid = $3"
            " AND NOT rejected AND NOT soft_failed ORDER BY stream_ordering",
            room.nid,
            key[0],
            key[1],
        )
        out: list[tuple[int, int]] = []
        for stream, text in rows:
            pdu = orjson.loads(str(text))
            if pdu.get("content", {}).get("membership") == "join":
                out.append((int(stream), int(pdu.get("origin_server_ts", 0))))
        return out

    async def snapshot_nid_at(self, room_nid: int, position: int) -> int:
        """The state snapshot after the room's last event at or before ``position``
        (0 -- the empty state -- when there is none)."""
        row = await self.db.fetchone(
            "SELECT state_after_nid FROM events WHERE room_nid = $1 AND stream_ordering <= $2"
            " AND NOT rejected AND NOT soft_failed ORDER BY stream_ordering DESC LIMIT 1",
            room_nid,
            position,
        )
        return 0 if row is None else int(row[0])

    async def _nids(
        self, room_nid: int, lower: int, upper: int, backwards: bool, limit: int
    ) -> list[int]:
        order = "DESC" if backwards else "ASC"
        rows = await self.db.fetchall(
            "SELECT event_nid FROM events WHERE room_nid = $1 AND stream_ordering > $2"
            " AND stream_ordering <= $3 AND NOT rejected AND NOT soft_failed"
            f" ORDER BY stream_ordering {order} LIMIT $4",
            room_nid,
            lower,
            upper,
            limit,
        )
        return [int(r[0]) for r in rows]

    async def paginate(
        self,
        room_nid: int,
        start: int,
        stop: int | None,
        backwards: bool,
        want: int,
        keep: Callable[[StoredEvent], Awaitable[bool]] | None = None,
    ) -> Page:
        """Up to ``want`` events of the room that ``keep`` accepts, walking from position
        ``start`` backwards (events at or before ``start``, newest first, not at or before
        ``stop``) or forwards (events after ``start``, oldest first, up to ``stop``).
        ``next_position`` is the position just past the last event examined."""
        found: list[StoredEvent] = []
        pos = start
        while len(found) < want:
            if backwards:
                lower, upper = (stop if stop is not None else MIN_POSITION), pos
            else:
                lower, upper = pos, (stop if stop is not None else 2**62)
            if lower >= upper:
                return Page(found, pos, True)
            batch = want - len(found) if keep is None else max(PAGE, want)
            nids = await self._nids(room_nid, lower, upper, backwards, batch)
            loaded = await self.events.get_by_nids(nids)
            for nid in nids:
                stored = loaded.get(nid)
                if stored is None:
                    continue
                pos = stored.stream_ordering - 1 if backwards else stored.stream_ordering
                if keep is None or await keep(stored):
                    found.append(stored)
                    if len(found) == want:
                        break
            if len(nids) < batch and len(found) < want:
                return Page(found, pos, True)
        return Page(found, pos, False)

    async def has_events(self, room_nid: int, lower: int, upper: int) -> bool:
        """Whether the room has any event in ``(lower, upper]``."""
        return bool(await self._nids(room_nid, lower, upper, False, 1))

    async def event_at(self, room_id: str, event_id: str) -> StoredEvent | None:
        """The accepted event ``event_id`` of ``room_id``, or None."""
        stored = await self.events.get_by_id(event_id)
        if (
            stored is None
            or stored.event.room_id != room_id
            or stored.rejected
            or stored.soft_failed
        ):
            return None
        return stored

    async def member_counts(self, room_nid: int) -> tuple[list[tuple[str, str, int]], int, int]:
        """The room's memberships ``(user_id, membership, stream_ordering)`` ordered by
        stream ordering, and its joined and invited counts."""
        rows = await self.db.fetchall(
            "SELECT user_id, membership, stream_ordering FROM room_memberships"
            " WHERE room_nid = $1 ORDER BY stream_ordering",
            room_nid,
        )
        members = [(str(r[0]), str(r[1]), int(r[2])) for r in rows]
        joined = sum(1 for m in members if m[1] == "join")
        invited = sum(1 for m in members if m[1] == "invite")
        return members, joined, invited

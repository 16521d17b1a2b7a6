"""``GET /rooms/{roomId}/timestamp_to_event``: the event of a room closest to a
timestamp in one direction (client-server-api "Room participation",
room_event_by_timestamp.yaml; added in v1.6).

Theory of operation
-------------------
``dir=f`` asks for the first event at or after ``ts``, ``dir=b`` for the last event at or
before it, by ``origin_server_ts`` (ties broken by stream order, so the answer is
stable). The walk follows the index ``events (room_nid, origin_server_ts,
stream_ordering)`` (migration 0850) from ``ts`` in pages of :data:`PAGE` rows, keyed on
the last ``(origin_server_ts, stream_ordering)`` seen, and returns the first event that
is accepted (not rejected, soft-failed or an outlier: those are stored soft-failed) and
that the user may see under the room's history visibility
(:class:`ranvier.sync.history.HistoryFilter`, which also honours forgotten rooms).
Events the user may not see are skipped, not answered, so the endpoint reveals nothing
``/messages`` would not. No event in that direction is 404 ``M_NOT_FOUND``.

Access is that of ``/messages`` (:meth:`ranvier.sync.pagination.PaginationService.room_for`):
a user who never had a membership in the room, or who forgot it, may ask only when
the room is ``world_readable`` (else 403 ``M_FORBIDDEN``). Only local history is
searched; asking other servers (server-server-api ``/timestamp_to_event``) is left to
federation.
"""

from __future__ import annotations

from ranvier.core.events import JsonDict
from ranvier.http.types import MatrixError
from ranvier.sync.history import HistoryFilter
from ranvier.sync.pagination import PaginationService

PAGE = 100
"""Rows read per query while skipping events the user may not see."""

_MAX_TS = 2**63 - 1


class TimestampLookup:
    """Finds the event closest to a timestamp (see the module docstring)."""

    def __init__(self, pagination: PaginationService) -> None:
        self.pagination = pagination
        self.store = pagination.store
        self.db = pagination.store.db

    async def _page(
        self, room_nid: int, forwards: bool, ts: int, stream: int
    ) -> list[tuple[int, int, int]]:
        """Up to :data:`PAGE` ``(event_nid, origin_server_ts, stream_ordering)`` past the
        key ``(ts, stream)`` in the direction asked (the key itself excluded)."""
        if forwards:
            cond = "(origin_server_ts > $2 OR (origin_server_ts = $2 AND stream_ordering > $3))"
            order = "ASC"
        else:
            cond = "(origin_server_ts < $2 OR (origin_server_ts = $2 AND stream_ordering < $3))"
            order = "DESC"
        rows = await self.db.fetchall(
            "SELECT event_nid, origin_server_ts, stream_ordering FROM events"
            f" WHERE room_nid = $1 AND {cond} AND NOT rejected AND NOT soft_failed"
            f" ORDER BY origin_server_ts {order}, stream_ordering {order} LIMIT $4",
            room_nid,
            ts,
            stream,
            PAGE,
        )
        return [(int(r[0]), int(r[1]), int(r[2])) for r in rows]

    async def closest(self, room_id: str, user_id: str, ts: int, forwards: bool) -> JsonDict:
        """``{"event_id", "origin_server_ts"}`` of the closest visible event, or 404."""
        room = await self.pagination.room_for(room_id, user_id)
        history = HistoryFilter(self.store, room, user_id)
        ts = min(max(ts, -_MAX_TS), _MAX_TS)
        # The starting key sits just outside ``ts`` so the event at ``ts`` is included.
        key = (ts, -1) if forwards else (ts, 2**62)
        while True:
            rows = await self._page(room.nid, forwards, *key)
            loaded = await self.store.events.get_by_nids(r[0] for r in rows)
            for nid, event_ts, stream in rows:
                stored = loaded.get(nid)
                if stored is not None and await history.visible(stored):
                    return {"event_id": stored.event.event_id, "origin_server_ts": event_ts}
                key = (event_ts, stream)
            if len(rows) < PAGE:
                break
        direction = "forward" if forwards else "backward"
        raise MatrixError(404, "M_NOT_FOUND", f"Unable to find event from {ts} in {direction}")

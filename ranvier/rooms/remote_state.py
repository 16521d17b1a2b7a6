"""State at remote events: snapshots as id maps, and resolution where the DAG forks.

Spec: server-server-api "Room State Resolution"; rooms/v1, rooms/v2 and rooms/v12
"State resolution".

Theory of operation: :func:`ranvier.core.state_res.resolve_state` is pure and asks for
events through a synchronous lookup. :class:`StateResolver` gathers what it may ask
for before calling it: every event of every state set and everything reachable from
them through ``auth_events`` (the auth chains the v2 algorithms walk), loaded from the
store in batches of one breadth-first level. Events rejected by the store are passed
as ``is_rejected``. Trivial cases need no loading: one state set, or several equal
ones, is its own resolution.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ranvier.core.events import Event, StateKey
from ranvier.core.room_versions import RoomVersion
from ranvier.core.state_res import resolve_state
from ranvier.core.state_res.auth_chain import create_event_id_of
from ranvier.rooms.state_store import Snapshot
from ranvier.rooms.storage import RoomStorage

IdState = dict[StateKey, str]
"""``(type, state_key) -> event id``."""


class StateResolver:
    """Id-map views of snapshots and state resolution over stored events."""

    def __init__(self, storage: RoomStorage) -> None:
        self.storage = storage
        self.events = storage.events

    async def id_state(self, snapshot: Snapshot) -> IdState:
        """The snapshot as ``{(type, state_key): event_id}``."""
        keys = await self.storage.nids.keys_of(snapshot.state)
        found = await self.events.get_by_nids(snapshot.state.values())
        out: IdState = {}
        for pair, key in keys.items():
            stored = found.get(snapshot.state[pair])
            if stored is not None:
                out[key] = stored.event.event_id
        return out

    async def load_events(self, event_ids: Iterable[str]) -> dict[str, Event]:
        """Stored events by id (unknown ids are left out)."""
        out: dict[str, Event] = {}
        for event_id in set(event_ids):
            stored = await self.events.get_by_id(event_id)
            if stored is not None:
                out[event_id] = stored.event
        return out

    async def _auth_closure(
        self, rv: RoomVersion, room_id: str, start: Iterable[str]
    ) -> tuple[dict[str, Event], set[str]]:
        events: dict[str, Event] = {}
        rejected: set[str] = set()
        frontier = set(start)
        create_id = create_event_id_of(rv, room_id)
        if create_id is not None:
            frontier.add(create_id)
        while frontier:
            nxt: set[str] = set()
            for event_id in frontier:
                stored = await self.events.get_by_id(event_id)
                if stored is None:
                    continue
                events[event_id] = stored.event
                if stored.rejected:
                    rejected.add(event_id)
                nxt.update(a for a in stored.event.auth_event_ids if a not in events)
            frontier = nxt - events.keys()
        return events, rejected

    async def resolve(
        self,
        rv: RoomVersion,
        room_id: str,
        state_sets: Sequence[Mapping[StateKey, str]],
        extra: Mapping[str, Event] | None = None,
    ) -> IdState:
        """Resolve ``state_sets`` with the room version's algorithm. ``extra`` holds
        events not stored yet (the event being received) that the sets may name."""
        distinct: list[Mapping[StateKey, str]] = []
        for s in state_sets:
            if not any(s == d for d in distinct):
                distinct.append(s)
        if len(distinct) == 1:
            return dict(distinct[0])
        if not distinct:
            return {}
        start: set[str] = set()
        for s in distinct:
            start.update(s.values())
        extra = extra or {}
        for ev in extra.values():
            start.update(ev.auth_event_ids)
        events, rejected = await self._auth_closure(rv, room_id, start - extra.keys())
        events.update(extra)
        return resolve_state(rv, distinct, events.get, is_rejected=rejected.__contains__)

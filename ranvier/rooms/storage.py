"""The room storage facade: NIDs, snapshots and events, with state read as events.

:class:`RoomStorage` holds the three stores (one each for NIDs, snapshots and
events) and turns snapshots, which map NIDs to NIDs, into the
``{(type, state_key): Event}`` maps that the auth rules, the room service and clients
use. Reading a whole state costs one snapshot load (cached) plus one batched event
read for events not in the event cache: O(state size).

The relations index (:mod:`.relation_store`) and the redaction applier
(:mod:`.redactions`) are installed here as persist hooks of the event store, so every
room storage keeps them in step with the events table.
"""

from __future__ import annotations

from collections.abc import Iterable

from ranvier.core.events import Event, StateKey
from ranvier.db import Database
from ranvier.rooms.event_store import EventStore
from ranvier.rooms.nids import NidStore
from ranvier.rooms.redactions import RedactionApplier
from ranvier.rooms.relation_store import RelationStore
from ranvier.rooms.state_store import Snapshot, StateStore


class RoomStorage:
    """Everything the room pipeline and service read and write."""

    def __init__(
        self, db: Database, *, snapshot_cache: int = 1024, event_cache: int = 20_000
    ) -> None:
        self.db = db
        self.nids = NidStore(db)
        self.state = StateStore(db, snapshot_cache)
        self.events = EventStore(db, self.state, event_cache)
        self.relations = RelationStore(db)
        self.events.hooks.append(self.relations.index)
        self.events.hooks.append(RedactionApplier(self, self.relations))

    async def snapshot(self, snapshot_nid: int) -> Snapshot:
        """The snapshot ``snapshot_nid`` (0: empty)."""
        return await self.state.load(snapshot_nid)

    async def state_events(
        self, snapshot: Snapshot, keys: Iterable[StateKey] | None = None
    ) -> dict[StateKey, Event]:
        """The events of ``snapshot`` for ``keys`` (all of them when ``keys`` is None)."""
        wanted: dict[tuple[int, int], StateKey] = {}
        if keys is None:
            wanted = await self.nids.keys_of(snapshot.state)
        else:
            for key in keys:
                found_pair = await self.nids.lookup_key(*key)
                if found_pair is not None and found_pair in snapshot.state:
                    wanted[found_pair] = key
        found = await self.events.get_by_nids(snapshot.state[p] for p in wanted)
        out: dict[StateKey, Event] = {}
        for pair, key in wanted.items():
            stored = found.get(snapshot.state[pair])
            if stored is not None:
                out[key] = stored.event
        return out

    async def state_event(
        self, snapshot: Snapshot, event_type: str, state_key: str
    ) -> Event | None:
        """The event of ``snapshot`` at ``(event_type, state_key)``, or None."""
        found = await self.state_events(snapshot, [(event_type, state_key)])
        return found.get((event_type, state_key))

    async def current_state(self, room_nid: int) -> Snapshot:
        """The room's current state snapshot."""
        return await self.snapshot(await self.events.current_snapshot_nid(room_nid))

"""One room's timeline and state for a sync (client-server-api "Syncing").

:func:`read_timeline` reads the newest events of a room in a range of positions that
the user may see (:mod:`ranvier.sync.history`) and the timeline filter lets through, at
most ``limit``; one more is read to know whether the timeline is ``limited``. A state
event that is part of the room's state at the end of the range is kept even where the
history visibility rules would hide it: the user may read that state anyway
(``GET /state``), and without it the client could not follow the state through the
timeline (the ``state`` section only covers what happened before the timeline starts).

:func:`state_events` computes the ``state`` (or ``state_after``) section from two state
snapshots, at the NID level so unchanged entries cost nothing:

* *full*: every entry of the snapshot (initial sync, ``full_state``, newly joined rooms);
* *incremental*: the entries whose event differs from the snapshot at ``since`` (the
  state "between since and the start of the timeline").

Events already in the timeline are left out of ``state`` (not of ``state_after``, which
clients apply instead of the timeline). With ``lazy_load_members`` (client-server-api
"Lazy-loading room members") a full state keeps only the ``m.room.member`` events of
the wanted users (timeline senders, the syncing user, heroes); an incremental one keeps
every membership that changed in the gap, as the spec requires for limited timelines,
plus the wanted users' current membership (redundant copies are allowed).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from ranvier.rooms.event_store import RoomInfo, StoredEvent
from ranvier.sync.filters import RoomEventFilter
from ranvier.sync.history import HistoryFilter
from ranvier.sync.store import SyncStore


@dataclass(frozen=True, slots=True)
class Timeline:
    """A room's timeline in a sync response."""

    events: list[StoredEvent]
    """Oldest first."""
    limited: bool
    start: int
    """The position just before the first event (``prev_batch``)."""

    @property
    def at_room_start(self) -> bool:
        """Whether the first event is the room's create event: nothing is earlier."""
        if not self.events:
            return False
        first = self.events[0].event
        return first.type == "m.room.create" and first.state_key == ""


async def read_timeline(
    store: SyncStore,
    room: RoomInfo,
    user_id: str,
    lower: int,
    upper: int,
    flt: RoomEventFilter,
    limit: int,
    ignored: Collection[str] = (),
) -> Timeline:
    """The newest visible events in ``(lower, upper]`` that ``flt`` allows, at most
    ``limit``, leaving out non-state events of ``ignored`` users."""
    # /sync leaves forgotten rooms out (ranvier.sync.service), so none is read here.
    history = HistoryFilter(store, room, user_id, forgotten=False)

    end_state: set[int] | None = None

    async def in_end_state(stored: StoredEvent) -> bool:
        nonlocal end_state
        if end_state is None:
            snap = await store.storage.snapshot(await store.snapshot_nid_at(room.nid, upper))
            end_state = set(snap.state.values())
        return stored.nid in end_state

    async def keep(stored: StoredEvent) -> bool:
        ev = stored.event
        if ignored and ev.sender in ignored and ev.state_key is None:
            return False
        if not flt.allows_event(ev):
            return False
        if await history.visible(stored):
            return True
        return ev.state_key is not None and await in_end_state(stored)

    page = await store.paginate(room.nid, upper, lower, True, limit + 1, keep)
    events = [await history.as_seen(s) for s in page.events]
    limited = len(events) > limit
    if limited:
        events = events[:limit]
    events.reverse()
    # prev_batch: just before the first returned event (where a limited gap ends).
    start = events[0].stream_ordering - 1 if events else upper
    return Timeline(events, limited, start)


async def state_events(
    store: SyncStore,
    snapshot_nid: int,
    since_snapshot_nid: int | None,
    flt: RoomEventFilter,
    *,
    exclude: Collection[int] = (),
    lazy_users: Collection[str] | None = None,
) -> list[StoredEvent]:
    """The state section (see the module docstring); ``since_snapshot_nid`` None means
    full state; ``exclude`` lists event NIDs to leave out (the timeline's)."""
    storage = store.storage
    snap = await storage.snapshot(snapshot_nid)
    member_type = await storage.nids.types.lookup("m.room.member")
    if since_snapshot_nid is None:
        wanted = dict(snap.state)
        if lazy_users is not None:
            wanted = {k: v for k, v in wanted.items() if k[0] != member_type}
    else:
        before = (await storage.snapshot(since_snapshot_nid)).state
        wanted = {k: v for k, v in snap.state.items() if before.get(k) != v}
    if lazy_users is not None and member_type is not None:
        for user_id in lazy_users:
            sk = await storage.nids.state_keys.lookup(user_id)
            if sk is not None and (member_type, sk) in snap.state:
                wanted[(member_type, sk)] = snap.state[(member_type, sk)]
    nids = [v for v in wanted.values() if v not in exclude]
    loaded = await storage.events.get_by_nids(nids)
    out = [s for s in loaded.values() if flt.allows_event(s.event)]
    out.sort(key=lambda s: (s.event.type, s.event.state_key or ""))
    return out

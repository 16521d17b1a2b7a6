"""Serving room events and state to other servers.

Spec: server-server-api "Retrieving events" (``/event``, ``/state``, ``/state_ids``),
"Retrieving event authorisation information" (``/event_auth``), "Backfilling and
retrieving missing events" (``/backfill``, ``/get_missing_events``), "Server Access
Control Lists (ACLs)"; client-server-api "History visibility" applied to servers.

Theory of operation
-------------------
Every answer starts with :meth:`RoomData.room_for` (the room must exist, 404; the
asking server must pass the room's server ACL, 403 ``M_FORBIDDEN``) and, for room
endpoints, :meth:`RoomData.require_in_room`: the server must have a joined member in
the room's current state (403 ``M_FORBIDDEN``), so only servers in the room read it.

Events are then filtered by history visibility for the server
(:meth:`RoomData.server_can_see`): with the state before the event, ``world_readable``
and ``shared`` events are visible to servers in the room, ``invited`` ones to a
server with a user invited or joined at the event, ``joined`` ones to a server with a
user joined at the event. An event the server may not see is served redacted (its
place in the DAG stays checkable, its content does not leak), as other homeservers do.
So are the events of local users who deactivated their account with ``erase``
(:mod:`ranvier.users.erasure`; account_deactivation.yaml), whoever asks.
Rejected events and outliers are never served from DAG walks; ``/event`` serves
outliers (a server asked us for them because they are referenced) but not rejected
events.

Walks (``/backfill``, ``/get_missing_events``) follow ``prev_events`` breadth first,
deepest first, from the given events, through stored events only.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from ranvier.core.events import Event, JsonDict
from ranvier.core.ids import InvalidIdentifier, server_name_of
from ranvier.core.redaction import redact
from ranvier.federation.acl import server_allowed
from ranvier.http.types import MatrixError
from ranvier.rooms.event_store import RoomInfo, StoredEvent
from ranvier.rooms.remote_store import RemoteStore
from ranvier.rooms.storage import RoomStorage
from ranvier.rooms.visibility import visibility_of
from ranvier.users.erasure import ErasedUsers

MAX_BACKFILL = 100
MAX_MISSING = 20


def _server_of(user_id: str) -> str | None:
    try:
        return server_name_of(user_id)
    except (InvalidIdentifier, ValueError):
        return None


class RoomData:
    """Room reads for other servers (see the module docstring)."""

    def __init__(self, storage: RoomStorage, server_name: str) -> None:
        self.storage = storage
        self.events = storage.events
        self.server_name = server_name
        self.remote = RemoteStore(storage)
        self.erased: ErasedUsers | None = None
        """Erased local users, whose events are served redacted (set by the owner)."""

    # ---- access -------------------------------------------------------------------------

    async def room_for(self, room_id: str, origin: str) -> RoomInfo:
        """The room (404 ``M_NOT_FOUND``), if its ACL lets ``origin`` in (403)."""
        room = await self.events.get_room(room_id)
        if room is None:
            raise MatrixError(404, "M_NOT_FOUND", "Unknown room")
        if not await self.acl_allows(room, origin):
            raise MatrixError(403, "M_FORBIDDEN", "Server is banned by the room's ACL")
        return room

    async def acl_allows(self, room: RoomInfo, origin: str) -> bool:
        """The room's current ``m.room.server_acl`` for ``origin``."""
        current = await self.storage.current_state(room.nid)
        acl = await self.storage.state_event(current, "m.room.server_acl", "")
        return server_allowed(acl.content if acl is not None else None, origin)

    async def servers_in_room(self, room: RoomInfo) -> set[str]:
        """Servers with a joined member in the room's current state."""
        out: set[str] = set()
        for user_id, membership, _ in await self.events.members(room.nid):
            server = _server_of(user_id)
            if membership == "join" and server is not None:
                out.add(server)
        return out

    async def require_in_room(self, room: RoomInfo, origin: str) -> None:
        """403 ``M_FORBIDDEN`` unless ``origin`` has a joined member in the room."""
        if origin not in await self.servers_in_room(room):
            raise MatrixError(403, "M_FORBIDDEN", "Server is not in the room")

    async def server_can_see(self, origin: str, stored: StoredEvent) -> bool:
        """History visibility of ``stored`` for the server ``origin`` (module docstring)."""
        before = await self.storage.snapshot(stored.state_before_nid)
        hv = await self.storage.state_event(before, "m.room.history_visibility", "")
        vis = visibility_of(hv.content if hv else None)
        if vis in ("world_readable", "shared"):
            return True
        member_type = await self.storage.nids.types.lookup("m.room.member")
        nids = [n for (t, _), n in before.state.items() if t == member_type]
        found = await self.events.get_by_nids(nids)
        allowed = {"join", "invite"} if vis == "invited" else {"join"}
        for s in found.values():
            ev = s.event
            sk = ev.state_key
            if sk is not None and _server_of(sk) == origin and ev.membership in allowed:
                return True
        return False

    async def _visible_pdu(self, origin: str, stored: StoredEvent) -> JsonDict:
        if await self.server_can_see(origin, stored) and not await self._erased(stored):
            return stored.event.pdu
        return redact(stored.event.pdu, stored.event.room_version)

    async def _erased(self, stored: StoredEvent) -> bool:
        sender = stored.event.sender
        if self.erased is None or _server_of(sender) != self.server_name:
            return False
        return bool(await self.erased.erased_among([sender]))

    # ---- single events and state --------------------------------------------------------

    async def event(self, origin: str, event_id: str) -> JsonDict:
        """``GET /event/{eventId}``: the PDU (404 if unknown, rejected, or the server is
        not in its room)."""
        stored = await self.events.get_by_id(event_id)
        if stored is None or stored.rejected:
            raise MatrixError(404, "M_NOT_FOUND", "Event not found")
        room = await self.room_for(stored.event.room_id, origin)
        if origin not in await self.servers_in_room(room):
            raise MatrixError(404, "M_NOT_FOUND", "Event not found")
        return await self._visible_pdu(origin, stored)

    async def _event_in(self, room: RoomInfo, event_id: str) -> StoredEvent:
        stored = await self.events.get_by_id(event_id)
        if stored is None or stored.room_nid != room.nid or stored.rejected:
            raise MatrixError(404, "M_NOT_FOUND", "Event not found")
        if await self.remote.is_outlier(stored.nid):
            raise MatrixError(404, "M_NOT_FOUND", "No state is known at this event")
        return stored

    async def state_at(
        self, origin: str, room_id: str, event_id: str
    ) -> tuple[list[Event], list[Event]]:
        """The state before ``event_id`` and the auth chain of that state."""
        room = await self.room_for(room_id, origin)
        await self.require_in_room(room, origin)
        stored = await self._event_in(room, event_id)
        if not await self.server_can_see(origin, stored):
            raise MatrixError(403, "M_FORBIDDEN", "Server may not see this event")
        snapshot = await self.storage.snapshot(stored.state_before_nid)
        state = list((await self.storage.state_events(snapshot)).values())
        chain = await self.auth_chain(state)
        return state, chain

    async def auth_chain(self, events: Iterable[Event]) -> list[Event]:
        """Every event reachable from ``events`` through ``auth_events`` (not themselves
        unless reachable), in depth order."""
        seen: dict[str, Event] = {}
        frontier = {a for e in events for a in e.auth_event_ids}
        while frontier:
            nxt: set[str] = set()
            for event_id in frontier:
                stored = await self.events.get_by_id(event_id)
                if stored is None:
                    continue
                seen[event_id] = stored.event
                nxt.update(stored.event.auth_event_ids)
            frontier = nxt - seen.keys()
        return sorted(seen.values(), key=lambda e: (e.depth, e.event_id))

    async def event_auth(self, origin: str, room_id: str, event_id: str) -> list[Event]:
        """``GET /event_auth``: the full auth chain of ``event_id``."""
        room = await self.room_for(room_id, origin)
        await self.require_in_room(room, origin)
        stored = await self.events.get_by_id(event_id)
        if stored is None or stored.room_nid != room.nid:
            raise MatrixError(404, "M_NOT_FOUND", "Event not found")
        return await self.auth_chain([stored.event])

    # ---- walks --------------------------------------------------------------------------

    async def _walk(
        self,
        room: RoomInfo,
        start: Iterable[str],
        *,
        include_start: bool,
        stop: set[str],
        limit: int,
        min_depth: int = 0,
    ) -> list[StoredEvent]:
        """Breadth first over ``prev_events``, deepest first; outliers and rejected
        events end the walk on their branch."""
        out: list[StoredEvent] = []
        seen: set[str] = set()
        heap: list[tuple[int, str]] = []

        async def push(event_id: str) -> None:
            if event_id in seen or event_id in stop:
                return
            seen.add(event_id)
            stored = await self.events.get_by_id(event_id)
            if stored is None or stored.room_nid != room.nid or stored.rejected:
                return
            if stored.event.depth < min_depth or await self.remote.is_outlier(stored.nid):
                return
            heapq.heappush(heap, (-stored.event.depth, event_id))

        for event_id in start:
            if include_start:
                await push(event_id)
            else:
                seen.add(event_id)
                stored = await self.events.get_by_id(event_id)
                if stored is not None and stored.room_nid == room.nid:
                    for prev in stored.event.prev_event_ids:
                        await push(prev)
        while heap and len(out) < limit:
            _, event_id = heapq.heappop(heap)
            stored = await self.events.get_by_id(event_id)
            assert stored is not None
            out.append(stored)
            for prev in stored.event.prev_event_ids:
                await push(prev)
        return out

    async def backfill(
        self, origin: str, room_id: str, event_ids: list[str], limit: int
    ) -> list[JsonDict]:
        """``GET /backfill``: up to ``limit`` events from ``event_ids`` backwards,
        including them."""
        room = await self.room_for(room_id, origin)
        await self.require_in_room(room, origin)
        found = await self._walk(
            room, event_ids, include_start=True, stop=set(), limit=min(limit, MAX_BACKFILL)
        )
        return [await self._visible_pdu(origin, s) for s in found]

    async def missing_events(
        self,
        origin: str,
        room_id: str,
        earliest: list[str],
        latest: list[str],
        limit: int,
        min_depth: int,
    ) -> list[JsonDict]:
        """``POST /get_missing_events``: the prev events of ``latest`` backwards, not
        crossing ``earliest``, oldest first."""
        room = await self.room_for(room_id, origin)
        await self.require_in_room(room, origin)
        found = await self._walk(
            room,
            latest,
            include_start=False,
            stop=set(earliest),
            limit=min(limit, MAX_MISSING),
            min_depth=min_depth,
        )
        found.sort(key=lambda s: (s.event.depth, s.stream_ordering))
        return [await self._visible_pdu(origin, s) for s in found]

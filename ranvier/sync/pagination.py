"""``GET /rooms/{roomId}/messages`` and ``GET /rooms/{roomId}/context/{eventId}``
(client-server-api "Getting events for a room", message_pagination.yaml,
event_context.yaml; "Lazy-loading room members"; "Room History Visibility").

Positions are those of the events stream (:mod:`ranvier.sync.tokens`): ``from`` and
``to`` may be any sync token (``prev_batch``, ``next_batch``) or a ``t<N>`` token from an
earlier answer. Backwards, a page holds the events at or before ``from`` (and after
``to``), newest first; forwards, the events after ``from`` (up to ``to``), oldest first.
Only events the user may see under the room's history visibility and that the filter
allows are returned; ``end`` is left out when the range holds nothing more (but kept going
forwards without ``to``: the live end is where new events will appear).

Access: a user with no membership in the room at all, or who forgot the room
(:mod:`ranvier.rooms.forgotten`), may read it only when it is ``world_readable`` (else
403 ``M_FORBIDDEN``, as for an unknown room); after that the visibility rules decide
per event, so a user who left sees history up to the leave. ``/context`` of an event the
user may not see (in a forgotten room too) is 404 ``M_NOT_FOUND``.
Non-state events of users the requester ignores are left out ("Ignoring Users").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ranvier.core.events import JsonDict
from ranvier.http.types import MatrixError
from ranvier.rooms.event_store import RoomInfo, StoredEvent
from ranvier.rooms.forgotten import ForgottenStore
from ranvier.rooms.state_store import StateMap
from ranvier.rooms.visibility import visibility_of
from ranvier.sync.account_data import ignored_users
from ranvier.sync.filters import RoomEventFilter
from ranvier.sync.history import HistoryFilter
from ranvier.sync.render import EventRenderer
from ranvier.sync.store import MIN_POSITION, SyncStore
from ranvier.sync.tokens import pagination_token
from ranvier.users.account_data import AccountDataStore

DEFAULT_LIMIT = 10
MAX_LIMIT = 1000

Backfill = Callable[[str, int], Awaitable[int]]
"""``await backfill(room_id, limit)`` -> events fetched from other servers, older than
the room's history (:class:`ranvier.federation.backfill.Backfiller`)."""


class PaginationService:
    """Serves ``/messages`` and ``/context``."""

    def __init__(self, store: SyncStore, account_data: AccountDataStore) -> None:
        self.store = store
        self.storage = store.storage
        self.account_data = account_data
        self.backfill: Backfill | None = None
        """Set when federation is enabled: a backwards page that reaches the start of
        what this server holds asks other servers for older history, then is read
        again (server-server-api "Backfilling and retrieving missing events")."""

    async def _keeper(
        self, room: RoomInfo, user_id: str, flt: RoomEventFilter
    ) -> tuple[HistoryFilter, Callable[[StoredEvent], Awaitable[bool]]]:
        """The history filter and the predicate for the events a page may hold."""
        history = HistoryFilter(self.store, room, user_id)
        ignored = await ignored_users(self.account_data, user_id)

        async def keep(stored: StoredEvent) -> bool:
            ev = stored.event
            if ev.sender in ignored and ev.state_key is None:
                return False
            return flt.allows_event(ev) and await history.visible(stored)

        return history, keep

    async def room_for(self, room_id: str, user_id: str) -> RoomInfo:
        """The room whose history ``user_id`` may page through, or 403 ``M_FORBIDDEN``
        (see the module docstring)."""
        room = await self.storage.events.get_room(room_id)
        if room is not None:
            member = await self.storage.events.membership_of(room.nid, user_id)
            forgotten = ForgottenStore(self.storage.db)
            if member is not None and not await forgotten.is_forgotten(user_id, room.nid):
                return room
            current = await self.storage.current_state(room.nid)
            hv = await self.storage.state_event(current, "m.room.history_visibility", "")
            if visibility_of(hv.content if hv else None) == "world_readable":
                return room
        raise MatrixError(403, "M_FORBIDDEN", "You are not a member of this room")

    async def _members_of_senders(self, events: list[StoredEvent]) -> list[StoredEvent]:
        """For lazy loading: each sender's membership as of their newest event here (the
        filter chose the events; it does not apply to the members shown with them)."""
        newest: dict[str, StoredEvent] = {}
        for stored in events:
            cur = newest.get(stored.event.sender)
            if cur is None or stored.stream_ordering > cur.stream_ordering:
                newest[stored.event.sender] = stored
        out: list[StoredEvent] = []
        for sender, stored in sorted(newest.items()):
            snap = await self.storage.snapshot(stored.state_after_nid)
            member = await self.storage.state_event(snap, "m.room.member", sender)
            if member is None:
                continue
            found = await self.storage.events.get_by_id(member.event_id)
            if found is not None:
                out.append(found)
        return out

    async def messages(
        self,
        room_id: str,
        user_id: str,
        device_id: str | None,
        *,
        backwards: bool,
        from_pos: int | None,
        from_token: str | None,
        to_pos: int | None,
        limit: int,
        flt: RoomEventFilter,
    ) -> JsonDict:
        """The ``/messages`` response body."""
        room = await self.room_for(room_id, user_id)
        if from_pos is None:
            from_pos = await self.storage.events.stream_position() if backwards else MIN_POSITION
        limit = min(max(limit, 0), MAX_LIMIT)
        history, keep = await self._keeper(room, user_id, flt)
        page = await self.store.paginate(room.nid, from_pos, to_pos, backwards, limit, keep)
        backfill = self.backfill
        if (
            backwards
            and to_pos is None
            and page.exhausted
            and backfill is not None
            and await backfill(room.room_id, max(limit, 20))
        ):
            page = await self.store.paginate(room.nid, from_pos, None, True, limit, keep)
        renderer = EventRenderer(self.store, user_id, device_id)
        body: JsonDict = {
            "start": from_token if from_token is not None else pagination_token(from_pos),
            "chunk": await renderer.render([await history.as_seen(s) for s in page.events]),
        }
        # Forwards with no ``to``, the live end is no end: new events will come after
        # it, so the client gets a token to continue from (the spec omits ``end`` when
        # "we have reached the start of the timeline", which only backwards can).
        live_end = not backwards and to_pos is None
        if not page.exhausted or (limit == 0 and page.events == []) or live_end:
            body["end"] = pagination_token(page.next_position)
        if flt.lazy_load_members:
            body["state"] = await renderer.render(
                await self._members_of_senders(page.events), bundle=False
            )
        return body

    async def context(
        self,
        room_id: str,
        event_id: str,
        user_id: str,
        device_id: str | None,
        *,
        limit: int,
        flt: RoomEventFilter,
    ) -> JsonDict:
        """The ``/context`` response body: 403 ``M_FORBIDDEN`` when the user may not
        read the room at all (as ``/messages``, and as Synapse answers), 404
        ``M_NOT_FOUND`` for an event that is unknown or hidden from them."""
        room = await self.room_for(room_id, user_id)
        target = await self.store.event_at(room_id, event_id)
        if target is None:
            raise MatrixError(404, "M_NOT_FOUND", "Event not found")
        history, keep = await self._keeper(room, user_id, flt)
        if not await history.visible(target):
            raise MatrixError(404, "M_NOT_FOUND", "Event not found")
        limit = min(max(limit, 0), MAX_LIMIT)
        before_n = limit // 2
        after_n = limit - before_n

        pos = target.stream_ordering
        before = await self.store.paginate(room.nid, pos - 1, None, True, before_n, keep)
        after = await self.store.paginate(room.nid, pos, None, False, after_n, keep)
        last = after.events[-1] if after.events else target
        snap = await self.storage.snapshot(last.state_after_nid)
        state = await self._state(snap.state, flt)
        if flt.lazy_load_members:
            state = [s for s in state if s.event.type != "m.room.member"]
            returned = [*before.events, target, *after.events]
            state += await self._members_of_senders(returned)
        renderer = EventRenderer(self.store, user_id, device_id)
        return {
            "start": pagination_token(before.next_position),
            "end": pagination_token(after.next_position),
            "events_before": await renderer.render(
                [await history.as_seen(s) for s in before.events]
            ),
            "event": (await renderer.render([await history.as_seen(target)]))[0],
            "events_after": await renderer.render([await history.as_seen(s) for s in after.events]),
            "state": await renderer.render(state, bundle=False),
        }

    async def _state(self, state: StateMap, flt: RoomEventFilter) -> list[StoredEvent]:
        """The events of a state map that ``flt`` allows, by ``(type, state_key)``."""
        loaded = await self.storage.events.get_by_nids(state.values())
        out = [s for s in loaded.values() if flt.allows_event(s.event)]
        out.sort(key=lambda s: (s.event.type, s.event.state_key or ""))
        return out

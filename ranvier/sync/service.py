"""``GET /sync``: initial and incremental syncs with long-polling (client-server-api
"Syncing", sync.yaml).

Theory of operation
-------------------
:meth:`SyncService.sync` resolves the filter (:mod:`ranvier.sync.filters`) and the
``since`` token (:mod:`ranvier.sync.tokens`), acknowledges the to-device messages the
client received with ``since`` (:mod:`ranvier.sync.to_device`), then loops:

1. take the *upper token*: the notifier's current token, with the events position read
   from the database (the bus delivers to the notifier asynchronously, so a client that
   just sent an event finds it in its next sync). Every position up to it is committed;
2. build the response for ``(since, upper]``: room memberships as of ``upper``
   (:meth:`ranvier.sync.store.SyncStore.memberships`) sorted into joined, invited,
   knocked and left rooms (:mod:`ranvier.sync.rooms`, :mod:`ranvier.sync.invites`;
   forgotten rooms never appear: client-server-api "Leaving rooms"),
   account data (:mod:`ranvier.sync.account_data`) and to-device messages;
3. return it if it holds anything, or if this is an initial sync, ``full_state`` or no
   ``timeout`` remains; otherwise wait on the :class:`~ranvier.sync.notifier.Notifier`
   for the user and their joined rooms past ``upper``, and go to 1 with ``since =
   upper`` (the range just read was empty). At the deadline the empty response's
   ``next_batch`` is ``upper``.

Typing and receipts (each joined room's ``ephemeral``) and ``presence`` come from
:class:`ranvier.ephemeral.sync_sections.EphemeralStreams` when one is given; a joined
room with only ephemeral news is sent with an empty timeline. Presence also covers who
has not seen whom yet: the members of rooms the user joined in the range, and users
whose joins the response carries. A sync counts as the
user being connected for presence (``set_presence``, :meth:`PresenceService.user_syncing
<ranvier.ephemeral.presence.PresenceService.user_syncing>`). ``device_lists``,
``device_one_time_keys_count`` and ``device_unused_fallback_key_types`` come from
:class:`ranvier.e2ee.device_lists.DeviceLists` when one is given (client-server-api
"Extensions to /sync" of "End-to-End Encryption"); ``changed``/``left`` only in
incremental syncs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import replace

from ranvier.bus import Bus
from ranvier.core.events import JsonDict
from ranvier.e2ee.device_lists import DeviceLists
from ranvier.ephemeral.sync_sections import EphemeralPositions, EphemeralStreams
from ranvier.rooms.forgotten import ForgottenStore
from ranvier.rooms.outputs import ROOM_EVENTS
from ranvier.rooms.storage import RoomStorage
from ranvier.sync.account_data import account_data_section, ignored_users
from ranvier.sync.filters import resolve_sync_filter
from ranvier.sync.invites import InviteSections
from ranvier.sync.notifier import Notifier
from ranvier.sync.render import EventRenderer
from ranvier.sync.request import SyncRequest
from ranvier.sync.rooms import RoomSections
from ranvier.sync.store import SyncStore
from ranvier.sync.to_device import MAX_PER_SYNC, ToDeviceStore
from ranvier.sync.tokens import SyncToken, parse_sync_token
from ranvier.users.account_data import AccountDataStore
from ranvier.users.filters import FilterStore

MAX_TIMEOUT_MS = 5 * 60 * 1000
"""Long-polls are cut to this length, whatever the client asks."""


def _joins_seen(join: dict[str, JsonDict], user_id: str) -> set[str]:
    """Other users whose joins (not a rejoin's profile change) are in the joined rooms'
    timelines and state of this response: they get their presence sent along."""
    out: set[str] = set()
    for entry in join.values():
        for section in ("timeline", "state", "state_after"):
            for ev in entry.get(section, {}).get("events", ()):
                if ev.get("type") != "m.room.member" or ev.get("state_key") == user_id:
                    continue
                prev = ev.get("unsigned", {}).get("prev_content", {})
                if ev.get("content", {}).get("membership") == "join" and (
                    prev.get("membership") != "join"
                ):
                    out.add(ev["state_key"])
    return out


class SyncService:
    """Computes ``/sync`` responses (see the module docstring)."""

    def __init__(
        self,
        storage: RoomStorage,
        account_data: AccountDataStore,
        filters: FilterStore,
        to_device: ToDeviceStore,
        notifier: Notifier,
        bus: Bus,
        ephemeral: EphemeralStreams | None = None,
        device_lists: DeviceLists | None = None,
    ) -> None:
        self.store = SyncStore(storage)
        self.account_data = account_data
        self.filters = filters
        self.to_device = to_device
        self.notifier = notifier
        self.rooms = RoomSections(self.store)
        self.forgotten = ForgottenStore(storage.db)
        self.invites = InviteSections(self.store)
        self._subscription = bus.subscribe(ROOM_EVENTS, notifier.room_event_handler)
        account_data.add_listener(notifier.account_data_listener)
        to_device.add_listener(self._to_device_listener)
        self.ephemeral = ephemeral
        if ephemeral is not None:
            ephemeral.connect(notifier.on_typing, notifier.on_receipts, notifier.on_presence)
        self._start_lock = asyncio.Lock()
        self.device_lists = device_lists
        self.response_hooks: list[Callable[[SyncRequest, JsonDict], Awaitable[None]]] = []
        """Called with each response body before it is returned (push adds the
        ``unread_notifications`` counts and the default ``m.push_rules``)."""

    async def _to_device_listener(self, user_ids: list[str], position: int) -> None:
        self.notifier.on_to_device(user_ids, position)

    async def _ensure_started(self) -> None:
        if self.notifier.started:
            return
        async with self._start_lock:
            if not self.notifier.started:
                eph = EphemeralPositions()
                if self.ephemeral is not None:
                    eph = await self.ephemeral.positions()
                self.notifier.start(
                    SyncToken(
                        await self.store.events.stream_position(),
                        await self.account_data.current_position(),
                        await self.to_device.current_position(),
                        eph.typing,
                        eph.receipts,
                        eph.presence,
                        0
                        if self.device_lists is None
                        else await self.device_lists.current_position(),
                    )
                )

    async def current_token(self) -> SyncToken:
        """The upper token of a sync starting now (step 1 of the module docstring)."""
        await self._ensure_started()
        events = await self.store.events.stream_position()
        return self.notifier.current().advance(SyncToken(events=events))

    async def sync(
        self,
        user_id: str,
        device_id: str | None,
        *,
        since: str | None = None,
        filter_param: str | None = None,
        full_state: bool = False,
        timeout_ms: int = 0,
        use_state_after: bool = False,
        set_presence: str | None = None,
    ) -> JsonDict:
        """The ``/sync`` response body."""
        syncing: contextlib.AbstractAsyncContextManager[None] = contextlib.nullcontext()
        if self.ephemeral is not None:
            syncing = self.ephemeral.presence.user_syncing(user_id, set_presence)
        async with syncing:
            return await self._sync(
                user_id,
                device_id,
                since=since,
                filter_param=filter_param,
                full_state=full_state,
                timeout_ms=timeout_ms,
                use_state_after=use_state_after,
            )

    async def _sync(
        self,
        user_id: str,
        device_id: str | None,
        *,
        since: str | None,
        filter_param: str | None,
        full_state: bool,
        timeout_ms: int,
        use_state_after: bool,
    ) -> JsonDict:
        since_token = None if since is None else parse_sync_token(since)
        flt = await resolve_sync_filter(self.filters, user_id, filter_param)
        if since_token is not None and device_id is not None:
            await self.to_device.acknowledge(user_id, device_id, since_token.to_device)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(max(timeout_ms, 0), MAX_TIMEOUT_MS) / 1000
        req = SyncRequest(
            user_id,
            device_id,
            flt,
            since_token,
            SyncToken(),
            full_state=full_state,
            use_state_after=use_state_after,
            ignored=await ignored_users(self.account_data, user_id),
        )
        while True:
            upto = await self.current_token()
            if req.since is not None:
                upto = upto.advance(req.since)
            req = replace(req, upto=upto)
            body, joined, empty = await self._build(req)
            if not empty or req.since is None or full_state:
                return body
            remaining = deadline - loop.time()
            if remaining <= 0:
                return body
            if not await self.notifier.wait(user_id, joined, upto, remaining):
                return body
            req = replace(req, since=upto)

    async def _build(self, req: SyncRequest) -> tuple[JsonDict, list[str], bool]:
        """The response for ``req``, the user's joined rooms, and whether it is empty."""
        renderer = EventRenderer(
            self.store,
            req.user_id,
            req.device_id,
            req.filter,
            include_room_id=False,
            ignored=req.ignored,
        )
        account_data = await account_data_section(self.account_data, req)
        rooms: dict[str, JsonDict] = {"join": {}, "invite": {}, "leave": {}, "knock": {}}
        joined: list[str] = []
        room_filter = req.filter.room
        memberships = await self.store.memberships(req.user_id, req.upto.events)
        forgotten: set[str] = set()
        if any(m.membership in ("leave", "ban") for m in memberships):
            forgotten = await self.forgotten.forgotten_room_ids(req.user_id)
        for m in memberships:
            room_id = m.room.room_id
            if m.membership == "join":
                joined.append(room_id)
            if not room_filter.allows_room(room_id):
                continue
            room_data = account_data.by_room.get(room_id, [])
            entry: JsonDict | None = None
            section = ""
            if m.membership == "join":
                section = "join"
                entry = await self.rooms.joined(req, m, room_data, renderer)
            elif (
                m.membership in ("leave", "ban")
                and room_id not in forgotten
                and self.rooms.wants_left(req, m)
            ):
                section = "leave"
                entry = await self.rooms.left(req, m, room_data, renderer)
            elif m.membership == "invite" and self.invites.wants(req, m):
                section = "invite"
                entry = await self.invites.invited(m, req.ignored)
            elif m.membership == "knock" and self.invites.wants(req, m):
                section = "knock"
                entry = await self.invites.knocked(m)
            if entry is not None:
                rooms[section][room_id] = entry

        since_pos = req.since_events
        newly_joined = [
            m.room.room_id
            for m in memberships
            if m.membership == "join" and since_pos is not None and m.stream_ordering > since_pos
        ]
        presence = await self._add_ephemeral(
            req, rooms["join"], joined, newly_joined, _joins_seen(rooms["join"], req.user_id)
        )

        next_token = req.upto
        to_device: list[JsonDict] = []
        if req.device_id is not None:
            after = 0 if req.since is None else req.since.to_device
            pending = await self.to_device.pending(
                req.user_id, req.device_id, after, req.upto.to_device
            )
            to_device = [event for _, event in pending]
            if len(pending) == MAX_PER_SYNC:
                next_token = replace(next_token, to_device=pending[-1][0])
        body: JsonDict = {
            "next_batch": str(next_token),
            "rooms": rooms,
            "presence": {"events": presence},
            "account_data": {"events": account_data.global_events},
            "to_device": {"events": to_device},
        }
        lists = await self._add_e2ee(req, body)
        for hook in self.response_hooks:
            await hook(req, body)
        empty = (
            not lists
            and not to_device
            and not account_data.global_events
            and not any(rooms.values())
            and not presence
        )
        return body, joined, empty

    async def _add_e2ee(self, req: SyncRequest, body: JsonDict) -> bool:
        """Add the end-to-end encryption sections; return whether a device list changed."""
        body["device_lists"] = {"changed": [], "left": []}
        body["device_one_time_keys_count"] = {"signed_curve25519": 0}
        if self.device_lists is None:
            return False
        if req.device_id is not None:
            body.update(await self.device_lists.key_counts(req.user_id, req.device_id))
        if req.since is None:
            return False
        s, u = req.since, req.upto
        changes = await self.device_lists.changes(
            req.user_id, s.device_lists, u.device_lists, s.events, u.events
        )
        body["device_lists"] = changes.to_json()
        return bool(changes.changed or changes.left)

    async def _add_ephemeral(
        self,
        req: SyncRequest,
        join: dict[str, JsonDict],
        joined: list[str],
        newly_joined: list[str],
        new_members: set[str],
    ) -> list[JsonDict]:
        """Put typing and receipts into the joined rooms (adding a room that has only
        those) and return the presence events (with the members' presence of rooms
        joined in the range: the user has not seen it)."""
        if self.ephemeral is None:
            return []
        s, u = req.since, req.upto
        since = None if s is None else EphemeralPositions(s.typing, s.receipts, s.presence)
        upto = EphemeralPositions(u.typing, u.receipts, u.presence)
        room_filter = req.filter.room
        by_room = await self.ephemeral.room_events(
            req.user_id,
            [r for r in joined if room_filter.allows_room(r)],
            since,
            upto,
            room_filter.ephemeral,
        )
        for room_id, events in by_room.items():
            entry = join.get(room_id)
            if entry is None:
                state_key = "state_after" if req.use_state_after else "state"
                entry = join[room_id] = {
                    "timeline": {"events": [], "limited": False, "prev_batch": str(u)},
                    state_key: {"events": []},
                    "account_data": {"events": []},
                    "unread_notifications": {"highlight_count": 0, "notification_count": 0},
                }
            entry["ephemeral"] = {"events": events}
        return await self.ephemeral.presence_events(
            req.user_id, since, upto, req.filter.presence, newly_joined, new_members
        )

    def close(self) -> None:
        """Stop listening to the bus."""
        self._subscription.cancel()

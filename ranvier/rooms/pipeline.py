"""The room input pipeline for events built by this server.

Theory of operation
-------------------
Every event enters through :meth:`RoomInput.submit` (or :meth:`RoomInput.create` for a
new room's create event) and runs as one job in the room's queue
(:mod:`ranvier.rooms.queue`): one event at a time per room, rooms in parallel. Inside
the job, in the order of server-server-api "Checks performed on receipt of a PDU":

0. (client sends) the transaction id is looked up; a repeat returns the first event;
1. the event is built on the room's forward extremities and the current state
   (:func:`ranvier.core.builder.build_event`, auth events chosen by
   :func:`~ranvier.core.builder.select_auth_events`), then checked for format
   (:func:`ranvier.core.format.check_pdu_format`: size, keys, ids);
2. signatures and hashes are those this server just made, so they are not re-checked;
3. the auth events themselves (:func:`~ranvier.core.auth.check_auth_events_shape`)
   and the auth rules against them (:func:`~ranvier.core.auth.check_auth_rules`);
4. the auth rules against the state before the event (for a local event built on all
   forward extremities, that is the room's current state, whose snapshot is
   maintained by the writer of the room; events received over federation that fork
   the DAG will be resolved into it by their own input path);
5. soft failure compares with the current state, which for local events is the state
   of check 4, so it cannot fail here.

A rejected event raises :class:`~ranvier.http.types.MatrixError` (403 ``M_FORBIDDEN``
for auth, 413 ``M_TOO_LARGE`` / 400 ``M_BAD_JSON`` for format) and stores nothing.
An accepted one is persisted with its state change and stream position in one
transaction (:meth:`ranvier.rooms.event_store.EventStore.persist`), then published on
the bus as :class:`~ranvier.rooms.outputs.RoomEventPersisted`.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ranvier.bus import Bus
from ranvier.core.auth import (
    AuthError,
    auth_types_for_event,
    check_auth_events_shape,
    check_auth_rules,
)
from ranvier.core.builder import build_event, select_auth_events
from ranvier.core.events import Event, StateKey
from ranvier.core.format import EventFormatError, check_pdu_format
from ranvier.core.room_versions import RoomVersion
from ranvier.core.signing import SigningKey
from ranvier.http.types import MatrixError
from ranvier.rooms.event_store import NewEvent, Persisted, RoomInfo
from ranvier.rooms.outputs import ROOM_EVENTS, RoomEventPersisted
from ranvier.rooms.queue import RoomQueues
from ranvier.rooms.state_store import EMPTY, Snapshot
from ranvier.rooms.storage import RoomStorage

MAX_PREV_EVENTS = 20
CREATE_KEY: StateKey = ("m.room.create", "")


@dataclass(frozen=True, slots=True)
class LocalEvent:
    """What a local user asks to send."""

    sender: str
    event_type: str
    content: Mapping[str, Any]
    state_key: str | None = None
    redacts: str | None = None
    txn: tuple[str, str] | None = None
    """``(device_id, txn_id)`` of a client send (idempotency per device, room, txn)."""
    txn_scope: str = ""
    """The endpoint of ``txn`` (:attr:`ranvier.rooms.event_store.NewEvent.txn_scope`)."""


@dataclass(frozen=True, slots=True)
class Submitted:
    """The outcome of a submission: the event id, and what was persisted (None for a
    repeated transaction id, which returns the event sent the first time)."""

    event_id: str
    persisted: Persisted | None = None


@dataclass(slots=True)
class RoomContext:
    """The state a queued job sees: the room and its current state (read-only)."""

    room: RoomInfo
    current: Snapshot
    storage: RoomStorage
    _events: dict[StateKey, Event] = field(default_factory=dict)

    async def get(self, event_type: str, state_key: str = "") -> Event | None:
        """The current state event at ``(event_type, state_key)``."""
        key = (event_type, state_key)
        if key not in self._events:
            ev = await self.storage.state_event(self.current, event_type, state_key)
            if ev is None:
                return None
            self._events[key] = ev
        return self._events[key]


Guard = Callable[[RoomContext], Awaitable[str | None]]
"""Run in the queue before building; may raise, or return an event id to answer with
instead of sending (e.g. a membership that is already in place)."""

InviteCountersign = Callable[[RoomInfo, Event, Snapshot], Awaitable[Mapping[str, Any]]]
"""``await countersign(room, invite, current_state)`` -> the invite PDU with the invitee's
server's signature added (server-server-api "Inviting to a room"; a local invitee's
invite is returned as it is). Raises MatrixError when the invitee's server refuses."""


def new_room_id(server_name: str) -> str:
    """A fresh room id for room versions 1-11: ``!<18 random letters>:<server>``."""
    letters = string.ascii_letters
    return "!" + "".join(secrets.choice(letters) for _ in range(18)) + ":" + server_name


class RoomInput:
    """Builds, checks, persists and publishes local events, in order per room."""

    def __init__(
        self, storage: RoomStorage, bus: Bus, server_name: str, signing_key: SigningKey
    ) -> None:
        self.storage = storage
        self.bus = bus
        self.server_name = server_name
        self.signing_key = signing_key
        self.queues = RoomQueues()
        self.countersign_invite: InviteCountersign | None = None
        """Set by the composition root when federation is enabled: invites are
        countersigned by the invitee's server before they are stored."""
        self._last_create_ts = 0
        """Timestamp of the last create event built here (see :meth:`_create_ts`)."""

    async def create(
        self,
        room_version: RoomVersion,
        creator: str,
        content: Mapping[str, Any],
        room_id: str | None = None,
    ) -> Persisted:
        """Create a room: build, check and persist its ``m.room.create`` event.

        ``room_id`` chooses the id of a v1-v11 room in advance (a room upgrade names the
        new room in the old room's tombstone first); v12 room ids come from the event."""
        if room_version.room_id_from_create_event:
            room_id = None
        elif room_id is None:
            room_id = new_room_id(self.server_name)
        event = build_event(
            origin_server_ts=self._create_ts(),
            room_version=room_version,
            room_id=room_id,
            sender=creator,
            event_type="m.room.create",
            content=content,
            state_key="",
            prev_events=(),
            auth_events=(),
            origin=self.server_name,
            signing_key=self.signing_key,
        )

        async def job() -> Persisted:
            if await self.storage.events.get_room(event.room_id) is not None:
                raise MatrixError(400, "M_ROOM_IN_USE", "Room already exists")
            self._check(event, {}, {})
            type_nid, sk_nid = await self.storage.nids.assign_key(event.type, "")
            persisted = await self.storage.events.persist(
                NewEvent(event, None, type_nid, sk_nid, EMPTY, ())
            )
            await self._publish(persisted)
            return persisted

        return await self.queues.run(event.room_id, job)

    def _create_ts(self) -> int:
        """A timestamp for a new create event, strictly after the previous one.

        In v12 rooms the room id is the hash of the create event (rooms/v12, MSC4291):
        two rooms created by one user in the same millisecond with the same content
        would otherwise get the same id, and the second createRoom would fail.
        """
        ts = max(int(time.time() * 1000), self._last_create_ts + 1)
        self._last_create_ts = ts
        return ts

    async def submit(
        self, room: RoomInfo, local: LocalEvent, guard: Guard | None = None
    ) -> Submitted:
        """Send ``local`` into ``room`` through the room's queue (see module docstring)."""
        return await self.queues.run(room.room_id, lambda: self._submit(room, local, guard))

    async def _submit(self, room: RoomInfo, local: LocalEvent, guard: Guard | None) -> Submitted:
        events = self.storage.events
        if local.txn is not None:
            known = await events.event_for_txn(
                local.sender, local.txn[0], room.nid, local.txn[1], local.txn_scope
            )
            if known is not None:
                return Submitted(known)
        current = await self.storage.current_state(room.nid)
        if guard is not None:
            answer = await guard(RoomContext(room, current, self.storage))
            if answer is not None:
                return Submitted(answer)
        rv = room.room_version
        ext_nids = (await events.forward_extremities(room.nid))[-MAX_PREV_EVENTS:]
        prev = [s.event for s in (await events.get_by_nids(ext_nids)).values()]
        needed = set(
            auth_types_for_event(rv, local.event_type, local.state_key, local.sender, local.content)
        )
        needed.add(CREATE_KEY)
        state = await self.storage.state_events(current, needed)
        auth_events = select_auth_events(
            rv, local.event_type, local.state_key, local.sender, local.content, state
        )
        event = build_event(
            room_version=rv,
            room_id=room.room_id,
            sender=local.sender,
            event_type=local.event_type,
            content=local.content,
            state_key=local.state_key,
            prev_events=prev,
            auth_events=auth_events,
            origin=self.server_name,
            signing_key=self.signing_key,
            redacts=local.redacts,
        )
        auth_map = {e.state_tuple: e for e in auth_events}
        if CREATE_KEY in state:
            auth_map.setdefault(CREATE_KEY, state[CREATE_KEY])
        self._check(event, auth_map, state, auth_events)
        if (
            self.countersign_invite is not None
            and event.type == "m.room.member"
            and event.membership == "invite"
        ):
            signed = await self.countersign_invite(room, event, current)
            event = Event(dict(signed), rv, event.event_id)
        type_nid = await self.storage.nids.types.assign(event.type)
        sk_nid = None
        if event.state_key is not None:
            sk_nid = await self.storage.nids.state_keys.assign(event.state_key)
        txn = None if local.txn is None else (local.sender, local.txn[0], local.txn[1])
        persisted = await events.persist(
            NewEvent(event, room, type_nid, sk_nid, current, ext_nids, txn, local.txn_scope)
        )
        await self._publish(persisted)
        return Submitted(event.event_id, persisted)

    @staticmethod
    def _check(
        event: Event,
        auth_map: Mapping[StateKey, Event],
        state_before: Mapping[StateKey, Event],
        auth_events: list[Event] | None = None,
    ) -> None:
        """Checks 1, 3 and 4 of the module docstring; raise MatrixError on failure."""
        try:
            check_pdu_format(event.pdu, event.room_version)
        except EventFormatError as exc:
            if "bytes; at most" in str(exc):
                raise MatrixError(413, "M_TOO_LARGE", f"Event is too large: {exc}") from None
            raise MatrixError(400, "M_BAD_JSON", f"Invalid event: {exc}") from None
        try:
            if auth_events is not None:
                check_auth_events_shape(event, auth_events)
            check_auth_rules(event, auth_map)
            if event.type != "m.room.create":
                check_auth_rules(event, state_before)
        except AuthError as exc:
            raise MatrixError(403, "M_FORBIDDEN", exc.reason) from None

    async def _publish(self, persisted: Persisted) -> None:
        ev = persisted.stored.event
        await self.bus.publish(
            ROOM_EVENTS,
            RoomEventPersisted.of(ev, persisted.stored.stream_ordering),
        )

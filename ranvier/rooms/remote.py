"""The room input pipeline for events received from other servers.

Spec: server-server-api "Checks performed on receipt of a PDU", "Rejection", "Soft
failure", "Retrieving event authorisation information", "Backfilling and retrieving
missing events", "Room State Resolution"; "Validating hashes and signatures on
received events".

Theory of operation
-------------------
:meth:`RemoteInput.receive` runs one PDU as a job in the room's queue -- the same
:class:`~ranvier.rooms.queue.RoomQueues` as local events, so local and remote events of
a room are processed one at a time, rooms in parallel. In the job, in the spec's order:

1. **format** (:func:`~ranvier.core.format.check_pdu_format`) -- else dropped
   (:class:`PduDropped`: nothing stored);
2. **signatures** of the servers that must sign (sender's, v1-v2 event id's,
   restricted join authoriser; checked by the ``verify`` callable, the keyring with
   the room version's key validity rule) -- else dropped;
3. **content hash** -- on mismatch the event is redacted and processing continues;
4. **state before the event**: the state after each prev event. Prev events we do
   not hold are first asked for with ``/get_missing_events`` (from the forward
   extremities to the event, bounded by :data:`MISSING_LIMIT`; the events returned
   go through this same pipeline, oldest first, without a further fetch). A PDU
   *pushed* to us (``/send``, ``send_join``...) whose prev events are still missing
   after that is dropped: its sender holds them, so it has no excuse not to divulge
   them, and trusting state it names for a gap it will not fill would let it pick the
   room's state (Synapse drops such a PDU too). Events *pulled* (through
   ``/get_missing_events`` or ``/backfill``) whose prev events are missing get their
   state from ``/state_ids`` at the prev event, the events named there being fetched
   and stored as outliers; rejected ones are left out of that state (a rejected event
   is never part of the room state -- "Rejection"). Several prev states are resolved
   (:mod:`.remote_state`). Without the state, the event is dropped;
5. **auth events**: missing ones are fetched with ``/event_auth`` (checked like this
   and stored as outliers); the event must pass the auth rules against its auth
   events (a rejected auth event rejects it) -- else **rejected**;
6. the auth rules against the **state before** -- else **rejected**;
7. against the room's **current state** -- else **soft failed**.

A rejected event is stored rejected (never served, never in state: its state after is
its state before); a soft-failed one is stored but neither shown to clients nor made
a forward extremity. An accepted one replaces its prev events as forward extremity,
and the room's current state becomes the resolution of the states after all forward
extremities (just the state after the event when it descends from all of them).
Accepted, not soft-failed events are published on the bus
(:class:`~ranvier.rooms.outputs.RoomEventPersisted`), as local ones are.

The network is behind :class:`EventSource` (implemented by
:mod:`ranvier.federation.fetcher`), so this module does no HTTP itself.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ranvier.bus import Bus
from ranvier.core.auth import AuthError, check_auth_events_shape, check_auth_rules
from ranvier.core.events import Event, JsonDict, StateKey
from ranvier.core.format import EventFormatError, check_pdu_format
from ranvier.core.hashes import check_content_hash
from ranvier.core.redaction import redact
from ranvier.core.room_versions import RoomVersion
from ranvier.core.signing import SignatureError
from ranvier.core.state_res.auth_chain import create_event_id_of
from ranvier.rooms.event_store import Persisted, RoomInfo, StoredEvent
from ranvier.rooms.outputs import ROOM_EVENTS, RoomEventPersisted
from ranvier.rooms.queue import RoomQueues
from ranvier.rooms.remote_state import IdState, StateResolver
from ranvier.rooms.remote_store import RemoteEvent, RemoteStore
from ranvier.rooms.storage import RoomStorage

logger = logging.getLogger(__name__)

MISSING_LIMIT = 20
"""Events asked for with one ``/get_missing_events`` when prev events are missing."""
MAX_FETCHED_STATE = 10_000
"""At most this many events are fetched to fill one gap's state."""
CREATE_KEY: StateKey = ("m.room.create", "")


class PduDropped(Exception):
    """The PDU was dropped (not stored): bad format or signature, unknown room,
    or its state could not be had. ``reason`` is a short code for metrics
    (``bad_format``, ``bad_signature``, ``not_in_room``, ``missing_state``)."""

    def __init__(self, message: str, reason: str = "missing_state") -> None:
        super().__init__(message)
        self.reason = reason


class EventSource(Protocol):
    """Where missing events come from (other servers)."""

    async def fetch_event(self, destination: str, event_id: str) -> JsonDict | None:
        """``GET /event/{eventId}``: the PDU, or None."""
        ...

    async def fetch_auth_chain(
        self, destination: str, room_id: str, event_id: str
    ) -> list[JsonDict]:
        """``GET /event_auth/{roomId}/{eventId}``: the event's full auth chain."""
        ...

    async def fetch_missing(
        self,
        destination: str,
        room_id: str,
        earliest: list[str],
        latest: list[str],
        limit: int,
        min_depth: int,
    ) -> list[JsonDict]:
        """``POST /get_missing_events/{roomId}``."""
        ...

    async def fetch_state_ids(
        self, destination: str, room_id: str, event_id: str
    ) -> tuple[list[str], list[str]]:
        """``GET /state_ids/{roomId}?event_id=``: ``(pdu_ids, auth_chain_ids)``."""
        ...


SignatureCheck = Callable[[JsonDict, RoomVersion], Awaitable[None]]
"""``await verify(pdu, room_version)``: raises SignatureError unless every server that
must sign the PDU did (server-server-api "Validating hashes and signatures")."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a received PDU."""

    event_id: str
    status: str
    """``accepted``, ``soft_failed``, ``rejected`` or ``outlier``."""
    reason: str = ""
    redacted: bool = False


def strip_unsigned(pdu: JsonDict) -> JsonDict:
    """A copy of ``pdu`` without the sender's ``unsigned`` section (it is not covered by
    signatures, so it is not trusted; this server computes its own)."""
    out = dict(pdu)
    out.pop("unsigned", None)
    return out


class RemoteInput:
    """Checks, stores and publishes events received over federation."""

    def __init__(
        self,
        storage: RoomStorage,
        bus: Bus,
        queues: RoomQueues,
        server_name: str,
        verify: SignatureCheck,
        source: EventSource,
    ) -> None:
        self.storage = storage
        self.events = storage.events
        self.bus = bus
        self.queues = queues
        self.server_name = server_name
        self.verify = verify
        self.source = source
        self.store = RemoteStore(storage)
        self.resolver = StateResolver(storage)
        self.counts: dict[str, int] = {}
        """Outcomes by status (``dropped`` too), for metrics and tests."""

    def _count(self, status: str) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1

    # ---- entry points ------------------------------------------------------------------

    async def is_joined(self, room: RoomInfo) -> bool:
        """Whether a local user is joined to ``room`` (we are in the room)."""
        for user_id, membership, _ in await self.events.members(room.nid):
            if membership == "join" and user_id.endswith(":" + self.server_name):
                return True
        return False

    async def receive(self, origin: str, pdu: Any) -> Outcome:
        """Process one PDU of a room we are in (module docstring). Raises
        :class:`PduDropped`."""
        if not isinstance(pdu, dict):
            self._count("dropped")
            raise PduDropped("PDU is not an object", "bad_format")
        room_id = pdu.get("room_id")
        room = await self.events.get_room(room_id) if isinstance(room_id, str) else None
        if room is None or not await self.is_joined(room):
            self._count("dropped")
            raise PduDropped("this server is not in the room", "not_in_room")
        try:
            outcome = await self.queues.run(
                room.room_id, lambda: self._process(origin, room, pdu, fetch=True)
            )
        except PduDropped:
            self._count("dropped")
            raise
        self._count(outcome.status)
        return outcome

    async def receive_in_queue(self, origin: str, room: RoomInfo, pdu: JsonDict) -> Outcome:
        """:meth:`receive` for a caller already running a job of ``room``'s queue."""
        return await self._process(origin, room, pdu, fetch=True)

    async def receive_backfilled(
        self, origin: str, room: RoomInfo, pdu: Any, position: int
    ) -> Outcome:
        """Process a PDU from ``/backfill`` (older than the room's history): the same
        checks (steps 1-6; the state before a prev event this server lacks comes from
        ``origin``'s ``/state_ids``), but no soft failure (step 7 compares with the
        present, which an old event predates), no change to the forward extremities or
        the current state, the stream ``position`` given (below zero, reserved with
        :meth:`~ranvier.rooms.remote_store.RemoteStore.reserve_backfill_positions`),
        and nothing published.
        Raises :class:`PduDropped`."""
        return await self.queues.run(
            room.room_id,
            lambda: self._process(origin, room, pdu, fetch=False, backfill_position=position),
        )

    # ---- step 1-3 ------------------------------------------------------------------------

    async def parse(
        self, pdu: Any, rv: RoomVersion, room_id: str | None = None
    ) -> tuple[Event, bool]:
        """Format, signatures and content hash of a PDU (steps 1-3). Returns the event
        and whether it was redacted because its content hash did not match."""
        try:
            check_pdu_format(pdu, rv)
            pdu = strip_unsigned(pdu)
            event = Event(pdu, rv)
        except (EventFormatError, KeyError, TypeError, ValueError) as exc:
            raise PduDropped(f"invalid event: {exc}", "bad_format") from None
        if room_id is not None and event.room_id != room_id:
            raise PduDropped("event belongs to another room", "bad_format")
        try:
            await self.verify(pdu, rv)
        except SignatureError as exc:
            raise PduDropped(f"bad signature: {exc}", "bad_signature") from None
        if not check_content_hash(pdu):
            return Event(redact(pdu, rv), rv, event.event_id), True
        return event, False

    # ---- the pipeline --------------------------------------------------------------------

    async def _process(
        self,
        origin: str,
        room: RoomInfo,
        pdu: Any,
        *,
        fetch: bool,
        backfill_position: int | None = None,
    ) -> Outcome:
        backfilled = backfill_position is not None
        rv = room.room_version
        event, redacted = await self.parse(pdu, rv, room.room_id)
        known = await self.events.get_by_id(event.event_id)
        if known is not None and not await self.store.is_outlier(known.nid):
            return _outcome_of(known)
        before = await self._state_before(origin, room, event, fetch=fetch)
        state = await self.resolver.load_events(before.values())
        before_events = {k: state[v] for k, v in before.items() if v in state}
        reason = await self._auth_against_auth_events(origin, room, event, before_events)
        rejected = reason is not None
        if not rejected:
            try:
                check_auth_rules(event, before_events)
            except AuthError as exc:
                reason, rejected = f"state before the event: {exc.reason}", True
        old_current = await self.storage.current_state(room.nid)
        soft_failed = False
        if not rejected and not backfilled:
            current = await self.storage.state_events(old_current)
            try:
                check_auth_rules(event, current)
            except AuthError as exc:
                soft_failed, reason = True, f"current state: {exc.reason}"
        before_nids = await self.store.state_map_nids(before)
        before_snap = await self._snapshot_for(room, before_nids, event)
        new_current = None
        if not rejected and not soft_failed and not backfilled:
            new_current = await self._new_current(room, event, before)
        persisted = await self.store.persist_event(
            RemoteEvent(
                event,
                room,
                before_snap,
                rejected=rejected,
                soft_failed=soft_failed,
                current=new_current,
                old_current=old_current,
                backfill_position=backfill_position,
            )
        )
        if not rejected and not soft_failed and not backfilled:
            await self._publish(persisted)
        outcome = _outcome_of(persisted.stored, reason or "", redacted)
        if rejected or soft_failed:
            logger.info("%s event %s from %s: %s", outcome.status, event.event_id, origin, reason)
        return outcome

    async def _snapshot_for(
        self, room: RoomInfo, state: dict[tuple[int, int], int], event: Event | None = None
    ) -> Any:
        """A snapshot holding ``state``: an existing one when the state is that of a prev
        event of ``event``, a forward extremity or the current state (the common case), else
        a new base."""
        if event is not None:
            for prev_id in event.prev_event_ids:
                prev = await self.events.get_by_id(prev_id)
                if prev is not None and prev.state_after_nid:
                    snap = await self.storage.snapshot(prev.state_after_nid)
                    if dict(snap.state) == state:
                        return snap
        current = await self.storage.current_state(room.nid)
        if dict(current.state) == state:
            return current
        for nid in await self.events.forward_extremities(room.nid):
            found = await self.events.get_by_nids([nid])
            if nid in found:
                snap = await self.storage.snapshot(found[nid].state_after_nid)
                if dict(snap.state) == state:
                    return snap
        return await self.store.write_state(room, state)

    async def _new_current(self, room: RoomInfo, event: Event, before: IdState) -> Any:
        """The room's current state once ``event`` is a forward extremity, as a NID map
        (the event's own entry as NID 0)."""
        after = dict(before)
        if event.state_key is not None:
            after[event.state_tuple] = event.event_id
        prevs = set(event.prev_event_ids)
        sets: list[IdState] = [after]
        for nid in await self.events.forward_extremities(room.nid):
            found = (await self.events.get_by_nids([nid])).get(nid)
            if found is None or found.event.event_id in prevs:
                continue
            sets.append(
                await self.resolver.id_state(await self.storage.snapshot(found.state_after_nid))
            )
        resolved = await self.resolver.resolve(
            room.room_version, room.room_id, sets, {event.event_id: event}
        )
        out: dict[tuple[int, int], int] = {}
        for key, event_id in resolved.items():
            pair = await self.storage.nids.assign_key(*key)
            if event_id == event.event_id:
                out[pair] = 0
                continue
            stored = await self.events.get_by_id(event_id)
            if stored is not None:
                out[pair] = stored.nid
        return out

    # ---- state before (step 4) -----------------------------------------------------------

    async def _prev_state(self, prev: StoredEvent) -> IdState:
        return await self.resolver.id_state(await self.storage.snapshot(prev.state_after_nid))

    async def _state_before(
        self, origin: str, room: RoomInfo, event: Event, *, fetch: bool
    ) -> IdState:
        rv = room.room_version
        if event.type == "m.room.create" and event.state_key == "":
            return {}
        held: dict[str, StoredEvent] = {}
        missing: list[str] = []
        for prev_id in event.prev_event_ids:
            stored = await self.events.get_by_id(prev_id)
            if stored is None or await self.store.is_outlier(stored.nid):
                missing.append(prev_id)
            else:
                held[prev_id] = stored
        if missing and fetch:
            await self._fetch_missing(origin, room, event)
            missing, still = [], missing
            for prev_id in still:
                stored = await self.events.get_by_id(prev_id)
                if stored is None or await self.store.is_outlier(stored.nid):
                    missing.append(prev_id)
                else:
                    held[prev_id] = stored
            if missing:
                # Pushed, and its sender did not divulge the prev events: drop it
                # rather than take the state of the gap on its word (module docstring).
                raise PduDropped(
                    f"prev events not divulged by {origin}: {', '.join(sorted(missing))}"
                )
        sets = [await self._prev_state(s) for s in held.values()]
        for prev_id in missing:
            sets.append(await self._state_from_remote(origin, room, prev_id))
        if not sets:
            raise PduDropped("no prev events")
        return await self.resolver.resolve(rv, room.room_id, sets)

    async def _fetch_missing(self, origin: str, room: RoomInfo, event: Event) -> None:
        ext = await self.events.get_by_nids(await self.events.forward_extremities(room.nid))
        earliest = [s.event.event_id for s in ext.values()]
        try:
            pdus = await self.source.fetch_missing(
                origin, room.room_id, earliest, [event.event_id], MISSING_LIMIT, 0
            )
        except Exception as exc:  # the network: fall back to /state_ids
            logger.info("get_missing_events from %s failed: %r", origin, exc)
            return
        parsed: list[tuple[int, str, Any]] = []
        for pdu in pdus:
            if isinstance(pdu, dict) and isinstance(pdu.get("depth"), int):
                parsed.append((pdu["depth"], str(pdu.get("origin_server_ts")), pdu))
        for _, _, pdu in sorted(parsed, key=lambda t: (t[0], t[1])):
            try:
                await self._process(origin, room, pdu, fetch=False)
            except PduDropped as exc:
                logger.info("missing event from %s dropped: %s", origin, exc)

    async def _state_from_remote(self, origin: str, room: RoomInfo, prev_id: str) -> IdState:
        """The state after ``prev_id`` as ``origin`` tells it (``/state_ids``), with every
        event it names fetched and stored as an outlier."""
        rv = room.room_version
        try:
            state_ids, chain_ids = await self.source.fetch_state_ids(origin, room.room_id, prev_id)
        except Exception as exc:
            raise PduDropped(f"cannot get the state at {prev_id}: {exc!r}") from None
        wanted = list(dict.fromkeys([*chain_ids, *state_ids, prev_id]))
        if len(wanted) > MAX_FETCHED_STATE:
            raise PduDropped("state to fetch is too large")
        fetched: list[Event] = []
        for event_id in wanted:
            if await self.events.get_by_id(event_id) is not None:
                continue
            try:
                pdu = await self.source.fetch_event(origin, event_id)
            except Exception as exc:
                raise PduDropped(f"cannot fetch {event_id}: {exc!r}") from None
            if pdu is None:
                raise PduDropped(f"cannot fetch {event_id}")
            ev, _ = await self.parse(pdu, rv, room.room_id)
            if ev.event_id != event_id:
                raise PduDropped(f"{origin} answered {ev.event_id} for {event_id}")
            fetched.append(ev)
        await self.store_outliers(room, fetched)
        out: IdState = {}
        for event_id in state_ids:
            stored = await self.events.get_by_id(event_id)
            if stored is None or stored.event.state_key is None:
                raise PduDropped(f"state event {event_id} is not a state event")
            if stored.rejected:
                # A rejected event is never state ("Rejection"): a server naming one
                # (say a power levels event it forged) cannot make it count.
                logger.info("state at %s from %s names rejected %s", prev_id, origin, event_id)
                continue
            out[stored.event.state_tuple] = event_id
        prev = await self.events.get_by_id(prev_id)
        if prev is not None and prev.event.state_key is not None and not prev.rejected:
            out[prev.event.state_tuple] = prev_id
        return out

    # ---- auth events (step 5) ------------------------------------------------------------

    async def store_outliers(self, room: RoomInfo, events: list[Event]) -> None:
        """Store events as outliers, oldest first, each checked against its auth events
        (rejected if it fails or names an unknown auth event)."""
        create_id = create_event_id_of(room.room_version, room.room_id)
        for ev in sorted(events, key=lambda e: e.depth):
            wanted = [*ev.auth_event_ids, *([create_id] if create_id else [])]
            auth = await self.resolver.load_events(wanted)
            rejected = False
            try:
                self._check_against_auth(room, ev, auth)
            except AuthError as exc:
                logger.info("outlier %s rejected: %s", ev.event_id, exc.reason)
                rejected = True
            await self.store.persist_outlier(room, ev, rejected=rejected)

    def _check_against_auth(
        self,
        room: RoomInfo,
        event: Event,
        auth: Mapping[str, Event],
        create: Event | None = None,
        rejected: set[str] | None = None,
    ) -> None:
        listed = [auth[a] for a in event.auth_event_ids if a in auth]
        if len(listed) != len(event.auth_event_ids):
            raise AuthError("auth_events", "an auth event is unknown")
        check_auth_events_shape(event, listed, rejected=rejected or ())
        auth_map: dict[StateKey, Event] = {e.state_tuple: e for e in listed}
        if CREATE_KEY not in auth_map:
            if create is None:
                create_id = create_event_id_of(room.room_version, room.room_id)
                create = auth.get(create_id) if create_id else None
            if create is not None:
                auth_map[CREATE_KEY] = create
        check_auth_rules(event, auth_map)

    async def _auth_against_auth_events(
        self, origin: str, room: RoomInfo, event: Event, before: Mapping[StateKey, Event]
    ) -> str | None:
        """Step 5: None if ``event`` passes against its auth events, else the reason."""
        rv = room.room_version
        stored = {a: await self.events.get_by_id(a) for a in event.auth_event_ids}
        if any(s is None for s in stored.values()):
            try:
                chain = await self.source.fetch_auth_chain(origin, room.room_id, event.event_id)
            except Exception as exc:
                return f"auth events unavailable: {exc!r}"
            fetched: list[Event] = []
            for pdu in chain:
                try:
                    ev, _ = await self.parse(pdu, rv, room.room_id)
                except PduDropped as exc:
                    logger.info("auth chain event from %s dropped: %s", origin, exc)
                    continue
                if await self.events.get_by_id(ev.event_id) is None:
                    fetched.append(ev)
            await self.store_outliers(room, fetched)
            stored = {a: await self.events.get_by_id(a) for a in event.auth_event_ids}
        auth = {a: s.event for a, s in stored.items() if s is not None}
        rejected = {a for a, s in stored.items() if s is not None and s.rejected}
        create = before.get(CREATE_KEY)
        if create is None:
            create_id = create_event_id_of(rv, room.room_id)
            found = await self.events.get_by_id(create_id) if create_id else None
            create = found.event if found else None
        try:
            self._check_against_auth(room, event, auth, create, rejected)
        except AuthError as exc:
            return f"auth events: {exc.reason}"
        return None

    async def _publish(self, persisted: Persisted) -> None:
        ev = persisted.stored.event
        await self.bus.publish(
            ROOM_EVENTS,
            RoomEventPersisted.of(ev, persisted.stored.stream_ordering),
        )


def _outcome_of(stored: StoredEvent, reason: str = "", redacted: bool = False) -> Outcome:
    if stored.rejected:
        return Outcome(stored.event.event_id, "rejected", reason or "rejected", redacted)
    if stored.soft_failed:
        return Outcome(stored.event.event_id, "soft_failed", reason, redacted)
    return Outcome(stored.event.event_id, "accepted", reason, redacted)

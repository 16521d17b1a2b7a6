"""Joining rooms over federation: ``make_join`` / ``send_join`` (v2), both sides.

Spec: server-server-api "Joining Rooms" (make_join, send_join v2), joins-v2.yaml,
joins-v1.yaml (make_join); "Server Access Control Lists (ACLs)".

Theory of operation
-------------------
*Resident side* (:class:`JoinResident`, a room this server is in):

* ``make_join`` answers a join template built on the room's forward extremities and
  current state, as this server would build a local event (auth events selected per
  "Auth events selection"), without hashes and signatures, after checking the join
  would pass the auth rules now (403 ``M_FORBIDDEN``), that the user belongs to the
  asking server (403) and that the asker supports the room version (400
  ``M_INCOMPATIBLE_ROOM_VERSION``);
* ``send_join`` takes the signed join back, checks it is that user's join with the
  id in the path (:class:`MembershipRefused`: 400 ``M_BAD_JSON`` for a malformed
  event, ``M_INVALID_PARAM`` for a bad signature or sender, as joins-v2.yaml
  recommends; 403 on the legacy v1 route), runs it through the remote room input like
  any received PDU (it must be accepted: 403 otherwise), and answers the state before
  the join with its auth chain and the servers in the room; with
  ``omit_members=true`` most membership events are left out
  (:mod:`~ranvier.federation.join_state`). This server's own joins always ask for the
  whole state. ``send_leave`` and ``send_knock`` share the checks.

*Joining side* (:class:`RemoteJoiner`): ``make_join`` at the first candidate server
that answers, hash and sign the template (:func:`~ranvier.core.signing.sign_event`),
``send_join``, then check every returned event (format, signatures, content hash,
auth against its own auth events; one failing format or signatures is dropped and
counted, the join goes on without it) and store the auth chain and state as outliers, the
state as the room's first snapshot, and the join as the first event of the room's
timeline with that state before it. This server always asks for the whole state (no
``omit_members``) and refuses an answer with ``members_omitted: true``. A room version
this server does not implement (named by ``make_join``, by the resident's 400
``M_INCOMPATIBLE_ROOM_VERSION``, or by the returned create event) fails the join with
400 ``M_INCOMPATIBLE_ROOM_VERSION`` before anything is stored, counted as
``unknown_room_version``. The join is published on the bus like any event (so sync
shows the room); later events arrive through ``/send``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ranvier.bus import Bus
from ranvier.core.auth import AuthError, auth_types_for_event, check_auth_rules
from ranvier.core.builder import build_event, select_auth_events
from ranvier.core.events import Event, JsonDict
from ranvier.core.hashes import compute_event_id
from ranvier.core.ids import InvalidIdentifier, server_name_of
from ranvier.core.room_versions import KNOWN_ROOM_VERSIONS, EventFormat, RoomVersion
from ranvier.core.signing import SignatureError, SigningKey
from ranvier.federation.client import FederationClient, FederationError, RemoteError
from ranvier.federation.join_state import JoinStateBuilder
from ranvier.federation.metrics import RejectHook, ignore_rejection
from ranvier.federation.remote_membership import IncompatibleRoomVersion, handshake
from ranvier.federation.room_data import RoomData
from ranvier.federation.stripped import room_state_pdus
from ranvier.http.types import MatrixError
from ranvier.rooms.event_store import RoomInfo, StoredEvent
from ranvier.rooms.outputs import ROOM_EVENTS, RoomEventPersisted
from ranvier.rooms.remote import CREATE_KEY, PduDropped, RemoteInput
from ranvier.rooms.remote_store import RemoteEvent

logger = logging.getLogger(__name__)

MAX_PREV_EVENTS = 20


def _server(user_id: str) -> str | None:
    try:
        return server_name_of(user_id)
    except (InvalidIdentifier, ValueError):
        return None


class MembershipRefused(MatrixError):
    """A ``send_join``/``send_leave``/``send_knock`` event refused before it reaches the
    room. ``kind``: ``format`` (not a well-formed event of the room version: 400
    ``M_BAD_JSON``), ``signature`` (fails its signature check, or is malformed and
    unsigned too, e.g. without ``hashes`` or ``signatures``) or ``sender`` (not the
    right membership of a user of the asking server): 400 ``M_INVALID_PARAM``, as
    joins-v2.yaml and leaving-v2.yaml recommend. The v1 endpoints answer the last two
    with 403 ``M_FORBIDDEN`` instead (:meth:`legacy`)."""

    def __init__(self, kind: str, message: str) -> None:
        errcode = "M_BAD_JSON" if kind == "format" else "M_INVALID_PARAM"
        super().__init__(400, errcode, message)
        self.kind = kind

    def legacy(self) -> MatrixError:
        """The error of the v1 endpoints (:mod:`~ranvier.federation.legacy_v1`): 403
        ``M_FORBIDDEN`` for a bad signature or sender, as the servers that use them
        (Synapse) answer; a malformed event stays 400 ``M_BAD_JSON``."""
        if self.kind == "format":
            return self
        return MatrixError(403, "M_FORBIDDEN", self.error)


class JoinResident:
    """make_join / send_join for rooms this server is in."""

    def __init__(
        self,
        remote: RemoteInput,
        data: RoomData,
        server_name: str,
        signing_key: SigningKey,
    ) -> None:
        self.remote = remote
        self.storage = remote.storage
        self.events = remote.storage.events
        self.data = data
        self.server_name = server_name
        self.signing_key = signing_key
        self.join_state = JoinStateBuilder(self.storage, data)

    async def _room(self, room_id: str, origin: str) -> RoomInfo:
        room = await self.data.room_for(room_id, origin)
        if not await self.remote.is_joined(room):
            raise MatrixError(404, "M_NOT_FOUND", "This server is not in the room")
        return room

    async def make_membership(
        self,
        origin: str,
        room_id: str,
        user_id: str,
        membership: str,
        versions: Sequence[str] | None,
    ) -> JsonDict:
        """A ``make_join``/``make_leave``/``make_knock`` answer: the event template
        for ``user_id``'s ``membership`` (``versions``: the asker's supported room
        versions; None for ``make_leave``, which has none)."""
        if _server(user_id) != origin:
            raise MatrixError(403, "M_FORBIDDEN", "User does not belong to the asking server")
        room = await self._room(room_id, origin)
        rv = room.room_version
        if versions is not None and rv.identifier not in versions:
            raise MatrixError(
                400,
                "M_INCOMPATIBLE_ROOM_VERSION",
                "Your server does not support this room's version",
                room_version=rv.identifier,
            )
        if membership == "knock" and not rv.knock_allowed:
            raise MatrixError(
                400,
                "M_INCOMPATIBLE_ROOM_VERSION",
                "This room's version does not allow knocking",
                room_version=rv.identifier,
            )
        content = {"membership": membership}
        current = await self.storage.current_state(room.nid)
        needed = set(auth_types_for_event(rv, "m.room.member", user_id, user_id, content))
        needed.add(CREATE_KEY)
        state = await self.storage.state_events(current, needed)
        auth = select_auth_events(rv, "m.room.member", user_id, user_id, content, state)
        ext = await self.events.forward_extremities(room.nid)
        prev = [s.event for s in (await self.events.get_by_nids(ext[-MAX_PREV_EVENTS:])).values()]
        event = build_event(
            room_version=rv,
            room_id=room.room_id,
            sender=user_id,
            event_type="m.room.member",
            content=content,
            state_key=user_id,
            prev_events=prev,
            auth_events=auth,
            origin=self.server_name,
            signing_key=self.signing_key,
        )
        try:
            check_auth_rules(event, state)
        except AuthError as exc:
            raise MatrixError(
                403, "M_FORBIDDEN", f"You cannot {membership}: {exc.reason}"
            ) from None
        template = dict(event.pdu)
        for key in ("signatures", "hashes", "unsigned"):
            template.pop(key, None)
        if rv.event_format is EventFormat.V1:
            template.pop("event_id", None)
        template["origin"] = origin
        return {"event": template, "room_version": rv.identifier}

    async def make_join(
        self, origin: str, room_id: str, user_id: str, versions: Sequence[str]
    ) -> JsonDict:
        """``GET /make_join/{roomId}/{userId}?ver=...``."""
        return await self.make_membership(origin, room_id, user_id, "join", versions)

    async def send_membership(
        self, origin: str, room_id: str, event_id: str, pdu: Any, membership: str
    ) -> StoredEvent:
        """The common part of ``send_join``/``send_leave``/``send_knock``: check that
        ``pdu`` is the ``membership`` of a user of ``origin`` with the id in the path
        (:class:`MembershipRefused` otherwise), run it through the remote room input (it
        must be accepted: 403 otherwise), and return it as stored."""
        room = await self._room(room_id, origin)
        rv = room.room_version
        try:
            event, _ = await self.remote.parse(pdu, rv, room.room_id)
        except PduDropped as exc:
            kind = "signature" if exc.reason == "bad_signature" else "format"
            if kind == "format" and not await self._signed(pdu, rv):
                # Unsigned and malformed (e.g. no hashes either): the signature is what
                # is missing, as servers checking signatures first (Synapse) say.
                kind = "signature"
            raise MembershipRefused(kind, str(exc)) from None
        if event.event_id != event_id:
            raise MatrixError(400, "M_BAD_JSON", "Event id does not match the path")
        if (
            event.type != "m.room.member"
            or event.membership != membership
            or event.state_key != event.sender
            or _server(event.sender) != origin
        ):
            raise MembershipRefused("sender", f"Not a {membership} of a user of the asking server")
        try:
            outcome = await self.remote.receive(origin, pdu)
        except PduDropped as exc:
            raise MatrixError(400, "M_BAD_JSON", str(exc)) from None
        if outcome.status != "accepted":
            raise MatrixError(403, "M_FORBIDDEN", f"{membership} refused: {outcome.reason}")
        stored = await self.events.get_by_id(event_id)
        assert stored is not None
        return stored

    async def _signed(self, pdu: Any, rv: RoomVersion) -> bool:
        """Whether the signatures ``pdu`` needs verify, whatever its other faults."""
        try:
            await self.remote.verify(pdu, rv)
        except (SignatureError, AttributeError, KeyError, TypeError, ValueError):
            return False
        return True

    async def send_join(
        self, origin: str, room_id: str, event_id: str, pdu: Any, omit_members: bool = False
    ) -> JsonDict:
        """``PUT /v2/send_join/{roomId}/{eventId}[?omit_members=true]``: the accepted
        join with the state before it (members omitted when asked:
        :mod:`~ranvier.federation.join_state`)."""
        stored = await self.send_membership(origin, room_id, event_id, pdu, "join")
        room = await self._room(room_id, origin)
        answer = await self.join_state.build(room, stored, omit_members)
        return {"origin": self.server_name, "event": stored.event.pdu, **answer.to_json()}

    async def send_leave(self, origin: str, room_id: str, event_id: str, pdu: Any) -> JsonDict:
        """``PUT /v2/send_leave/{roomId}/{eventId}``: ``{}`` once accepted."""
        await self.send_membership(origin, room_id, event_id, pdu, "leave")
        return {}

    async def send_knock(self, origin: str, room_id: str, event_id: str, pdu: Any) -> JsonDict:
        """``PUT /v1/send_knock/{roomId}/{eventId}``: the room state the knocker is
        shown (``knock_room_state``, with the room's create event)."""
        stored = await self.send_membership(origin, room_id, event_id, pdu, "knock")
        before = await self.storage.snapshot(stored.state_before_nid)
        return {"knock_room_state": await room_state_pdus(self.storage, before)}


class RemoteJoiner:
    """Joins local users to rooms hosted elsewhere."""

    def __init__(
        self,
        remote: RemoteInput,
        client: FederationClient,
        bus: Bus,
        server_name: str,
        signing_key: SigningKey,
    ) -> None:
        self.remote = remote
        self.storage = remote.storage
        self.client = client
        self.bus = bus
        self.server_name = server_name
        self.signing_key = signing_key
        self.on_reject: RejectHook = ignore_rejection
        """Counts refusals (:mod:`~ranvier.federation.metrics`)."""

    async def join(
        self, room_id: str, user_id: str, servers: Sequence[str], content: JsonDict
    ) -> str:
        """Join ``user_id`` to ``room_id`` through the first of ``servers`` that
        answers; return the join event id. 400 ``M_INCOMPATIBLE_ROOM_VERSION`` at once
        for a room version this server does not implement (the room's version is the
        same whichever server answers). When no server helps: the last 400 or 403 a
        resident answered is passed on to the client (joins-v2.yaml: "The error should
        be passed through to clients"; ``M_MISSING_PARAM``/``M_INVALID_PARAM`` become
        502, as it says those SHOULD fail with a 5xx), else 404 ``M_NOT_FOUND``."""
        last: Exception | None = None
        refused: RemoteError | None = None
        for server in dict.fromkeys(s for s in servers if s != self.server_name):
            try:
                return await self._join_via(server, room_id, user_id, content)
            except IncompatibleRoomVersion as exc:
                self.on_reject("unknown_room_version")
                raise exc.to_matrix_error() from None
            except (FederationError, PduDropped, ValueError, KeyError) as exc:
                logger.info("joining %s through %s failed: %r", room_id, server, exc)
                last = exc
                if isinstance(exc, RemoteError) and exc.status in (400, 403) and exc.errcode:
                    refused = exc
        if refused is not None and refused.errcode is not None:
            if refused.errcode in ("M_MISSING_PARAM", "M_INVALID_PARAM"):
                raise MatrixError(502, "M_UNKNOWN", f"The resident server refused: {refused}")
            raise MatrixError(refused.status, refused.errcode, refused.error or "Join refused")
        raise MatrixError(404, "M_NOT_FOUND", f"No server could help joining the room: {last}")

    async def _join_via(self, server: str, room_id: str, user_id: str, content: JsonDict) -> str:
        rv, signed, answer = await handshake(
            self.client,
            self.server_name,
            self.signing_key,
            server,
            room_id,
            user_id,
            "join",
            content,
        )
        if not isinstance(answer, dict):
            raise ValueError("send_join answered no object")
        if answer.get("members_omitted") is True:
            # Never asked for (no omit_members): partial state stored as the room's
            # whole state would lose its members.
            raise ValueError("send_join omitted members though asked for the whole state")
        if isinstance(answer.get("event"), dict):
            signed = answer["event"]
        return await self._store_join(server, room_id, rv, signed, answer)

    async def _store_join(
        self, server: str, room_id: str, rv: Any, join_pdu: JsonDict, answer: JsonDict
    ) -> str:
        remote = self.remote
        state_pdus, chain_pdus = answer.get("state"), answer.get("auth_chain")
        if not isinstance(state_pdus, list) or not isinstance(chain_pdus, list):
            raise ValueError("send_join answered no state or auth_chain")
        join, _ = await remote.parse(join_pdu, rv, room_id)
        parsed: dict[str, Event] = {}
        for pdu in [*chain_pdus, *state_pdus]:
            try:
                ev, _ = await remote.parse(pdu, rv, room_id)
            except PduDropped as exc:
                # Dropped as a received PDU would be ("Checks performed on receipt of
                # a PDU"): the join goes on without it.
                logger.info("send_join answer from %s: event dropped: %s", server, exc)
                self.on_reject(exc.reason)
                continue
            parsed[ev.event_id] = ev
        state_ids = set()
        for pdu in state_pdus:
            state_ids.add(compute_event_id(pdu, rv) if isinstance(pdu, dict) else "")
        creates = [e for e in parsed.values() if e.type == "m.room.create" and e.state_key == ""]
        if not creates:
            raise ValueError("no create event in the join answer")
        for candidate in creates:
            created_as = candidate.content.get("room_version", "1")
            if created_as == rv.identifier:
                continue
            if isinstance(created_as, str) and created_as not in KNOWN_ROOM_VERSIONS:
                raise IncompatibleRoomVersion(created_as)
            raise ValueError("a create event's room version is not make_join's")
        create = creates[0]

        async def job() -> str:
            room = await remote.store.create_room(
                room_id, rv, create.sender, create.origin_server_ts
            )
            await remote.store_outliers(room, list(parsed.values()))
            state = {
                e.state_tuple: e.event_id
                for e in parsed.values()
                if e.event_id in state_ids and e.state_key is not None
            }
            for event_id in state.values():
                stored = await self.storage.events.get_by_id(event_id)
                if stored is None or stored.rejected:
                    raise ValueError(f"state event {event_id} failed its auth checks")
            before = await remote.store.write_state(room, await remote.store.state_map_nids(state))
            events = await remote.resolver.load_events(state.values())
            before_events = {k: events[v] for k, v in state.items()}
            try:
                check_auth_rules(join, before_events)
            except AuthError as exc:
                raise ValueError(f"the join does not pass the auth rules: {exc.reason}") from None
            # A rejoin: the extremities left from before are stale (the join's prevs
            # are the room's extremities now).
            await self.storage.db.execute(
                "DELETE FROM room_forward_extremities WHERE room_nid = $1", room.nid
            )
            self.storage.events.invalidate_heads(room.nid)
            pair = await self.storage.nids.assign_key("m.room.member", join.sender)
            current = {**before.state, pair: 0}
            old = await self.storage.current_state(room.nid)
            persisted = await remote.store.persist_event(
                RemoteEvent(join, room, before, current=current, old_current=old)
            )
            await self.bus.publish(
                ROOM_EVENTS,
                RoomEventPersisted.of(join, persisted.stored.stream_ordering),
            )
            return join.event_id

        return await remote.queues.run(room_id, job)

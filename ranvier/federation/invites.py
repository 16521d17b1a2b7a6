"""Invites across servers (invite v2, and v1 for older servers), both directions.

Spec: server-server-api "Inviting to a room" (invites-v2.yaml, invites-v1.yaml),
"Validating hashes and signatures on received events", "Server Access Control Lists
(ACLs)"; client-server-api "Stripped state".

Theory of operation
-------------------
*Inviting a user of another server* (:class:`InviteSender`). The invite event is built
by the room input pipeline like any local event and passes the auth rules there; before
it is stored, the pipeline calls :meth:`InviteSender.countersign`, which sends it to the
invitee's server with ``PUT /v2/invite/{roomId}/{eventId}``, the room version and the
``invite_room_state`` (:func:`~ranvier.federation.stripped.room_state_pdus` of the
current state, with the inviter's membership). The answer must be the same event (same
id) carrying a valid signature of the invitee's server; that signature is added to our
event, which the pipeline then stores and publishes, and the federation sender sends to
the room (and to the invitee's server) like any event. A server that does not know the v2
endpoint (:func:`~ranvier.federation.legacy_v1.is_unknown_endpoint`) is sent the v1 form
(the event with ``unsigned.invite_room_state``; answer ``[200, {"event": ...}]``) in
rooms of version 1 or 2, the only ones v1 can carry; in other rooms the client gets 400
``M_UNSUPPORTED_ROOM_VERSION``. An answered event that is not well formed for the room
version (e.g. a float in a v6+ room) is 400 ``M_BAD_JSON``, as Synapse answers. A
refusal is passed to the client (4xx as answered, except that
``M_MISSING_PARAM``/``M_INVALID_PARAM`` become 500 as the spec asks); an unreachable
server is 403 ``M_FORBIDDEN`` (inviting.yaml defines no other failure); a malformed
answer is 502. A server the room's ACL denies is not asked (403).

*Being invited* (:class:`InviteReceiver`). The request must name a supported room
version (400 ``M_INCOMPATIBLE_ROOM_VERSION``, counted as ``unknown_room_version`` by
:mod:`~ranvier.federation.metrics`; nothing is recorded; the same when the room state's
create event names an unknown version) and carry an invite event that is well
formed (400 ``M_BAD_JSON`` otherwise, e.g. not canonical JSON in a v6+ room), signed
by the sender's server, with an intact content hash, the id in the path,
``m.room.member`` with membership ``invite``, a sender of the asking server, and a local
user as state key (400 ``M_INVALID_PARAM`` otherwise, as invites-v2.yaml recommends).
``PUT /v1/invite`` (:meth:`InviteReceiver.receive_v1`) is the same with the event as
the body and the room state in its ``unsigned``, for room version 1 or 2. If this
server is in the room, the room's ACL must allow the asking server (403). The room state is checked
(:func:`~ranvier.federation.stripped.check_room_state`). The event is signed by this
server and returned; if this server is not in the room it is also recorded as the
user's membership (:class:`~ranvier.federation.out_of_room.OutOfRoomMemberships`), so
``/sync`` shows the invite with the stripped state. (If it is in the room, the invite
arrives again through ``/send`` into the DAG, as the spec notes.)
"""

from __future__ import annotations

from typing import Any

from ranvier.core.events import Event, JsonDict
from ranvier.core.format import EventFormatError, check_pdu_format
from ranvier.core.ids import InvalidIdentifier, server_name_of
from ranvier.core.redaction import redact
from ranvier.core.room_versions import KNOWN_ROOM_VERSIONS, UnknownRoomVersion, get_room_version
from ranvier.core.signing import SignatureError, SigningKey, sign_event
from ranvier.federation.client import FederationClient, RemoteError, Unreachable, path_segment
from ranvier.federation.keyring import Keyring
from ranvier.federation.legacy_v1 import is_unknown_endpoint, put_with_v1_fallback
from ranvier.federation.metrics import RejectHook, ignore_rejection
from ranvier.federation.out_of_room import OutOfRoomMemberships
from ranvier.federation.room_data import RoomData
from ranvier.federation.stripped import (
    BadRoomState,
    CreateVersionMismatch,
    check_room_state,
    room_state_pdus,
)
from ranvier.http.types import MatrixError
from ranvier.rooms.event_store import RoomInfo
from ranvier.rooms.remote import PduDropped, RemoteInput, strip_unsigned
from ranvier.rooms.state_store import Snapshot

V1 = "/_matrix/federation/v1"
V2 = "/_matrix/federation/v2"


def _server(identifier: Any) -> str | None:
    try:
        return server_name_of(identifier) if isinstance(identifier, str) else None
    except (InvalidIdentifier, ValueError):
        return None


def _invalid(message: str) -> MatrixError:
    return MatrixError(400, "M_INVALID_PARAM", message)


def _v1_room_version(state: Any) -> str:
    """The room version of a v1 invite: "2" when its room state has a create event
    saying so, else "1" (invites-v1.yaml: one of the two)."""
    for item in state if isinstance(state, list) else ():
        if (
            isinstance(item, dict)
            and item.get("type") == "m.room.create"
            and item.get("state_key") == ""
            and isinstance(item.get("content"), dict)
            and item["content"].get("room_version") == "2"
        ):
            return "2"
    return "1"


class InviteSender:
    """Gets invites of remote users countersigned by their server (module docstring)."""

    def __init__(
        self, client: FederationClient, keyring: Keyring, data: RoomData, server_name: str
    ) -> None:
        self.client = client
        self.keyring = keyring
        self.data = data
        self.storage = data.storage
        self.server_name = server_name

    async def countersign(self, room: RoomInfo, event: Event, current: Snapshot) -> JsonDict:
        """The invite ``event`` with the invitee's server's signature added."""
        target = _server(event.state_key)
        if target is None or target == self.server_name:
            return event.pdu
        if not await self.data.acl_allows(room, target):
            raise MatrixError(403, "M_FORBIDDEN", "The invitee's server is denied by the ACL")
        rv = room.room_version
        state = await room_state_pdus(self.storage, current, event.sender)
        body = {"room_version": rv.identifier, "event": event.pdu, "invite_room_state": state}
        tail = f"/{path_segment(room.room_id)}/{path_segment(event.event_id)}"
        # The v1 form, for servers without v2, can only carry rooms of version 1 or 2.
        v1_path = f"{V1}/invite{tail}" if rv.identifier in ("1", "2") else None
        unsigned = event.pdu.get("unsigned")
        v1_body = {
            **event.pdu,
            "unsigned": {
                **(unsigned if isinstance(unsigned, dict) else {}),
                "invite_room_state": state,
            },
        }
        try:
            answer = await put_with_v1_fallback(
                self.client, target, f"{V2}/invite{tail}", body, v1_path, v1_body
            )
        except ValueError as exc:
            raise MatrixError(502, "M_UNKNOWN", f"{target} answered: {exc}") from None
        except RemoteError as exc:
            if v1_path is None and is_unknown_endpoint(exc):
                raise MatrixError(
                    400,
                    "M_UNSUPPORTED_ROOM_VERSION",
                    f"{target} knows only v1 invites, which cannot carry this room version",
                ) from None
            if exc.errcode in ("M_MISSING_PARAM", "M_INVALID_PARAM") or exc.status >= 500:
                raise MatrixError(500, "M_UNKNOWN", f"{target} refused the invite: {exc}") from None
            raise MatrixError(
                exc.status, exc.errcode or "M_FORBIDDEN", exc.error or "Invite refused"
            ) from None
        except Unreachable as exc:
            raise MatrixError(403, "M_FORBIDDEN", f"Cannot reach {target}: {exc}") from None
        signed = answer.get("event") if isinstance(answer, dict) else None
        if not isinstance(signed, dict):
            raise MatrixError(502, "M_UNKNOWN", f"{target} answered no event")
        try:
            check_pdu_format(strip_unsigned(signed), rv)
        except EventFormatError as exc:
            # What Synapse answers too (the room version's JSON rules broken).
            raise MatrixError(400, "M_BAD_JSON", f"{target} answered a bad event: {exc}") from None
        theirs = signed.get("signatures", {}).get(target)
        if not isinstance(theirs, dict) or not theirs:
            raise MatrixError(502, "M_UNKNOWN", f"{target} did not sign the invite")
        pdu = dict(event.pdu)
        pdu["signatures"] = {**pdu.get("signatures", {}), target: theirs}
        try:
            await self.keyring.verify_json(
                redact(pdu, rv),
                target,
                at_ts=event.origin_server_ts,
                enforce_validity=rv.enforce_key_validity,
            )
        except SignatureError as exc:
            raise MatrixError(502, "M_UNKNOWN", f"Bad signature from {target}: {exc}") from None
        return pdu


class InviteReceiver:
    """Answers ``PUT /v2/invite`` for local users (module docstring)."""

    def __init__(
        self,
        remote: RemoteInput,
        data: RoomData,
        memberships: OutOfRoomMemberships,
        server_name: str,
        signing_key: SigningKey,
    ) -> None:
        self.remote = remote
        self.data = data
        self.memberships = memberships
        self.server_name = server_name
        self.signing_key = signing_key
        self.received = 0
        """Invites accepted and countersigned (for tests and metrics)."""
        self.on_reject: RejectHook = ignore_rejection
        """Counts refusals (:mod:`~ranvier.federation.metrics`)."""

    def _incompatible(self, version: str) -> MatrixError:
        """Count an invite to a room of an unknown version; its 400."""
        self.on_reject("unknown_room_version")
        return MatrixError(
            400,
            "M_INCOMPATIBLE_ROOM_VERSION",
            "This server does not support the room's version",
            room_version=version,
        )

    async def receive(self, origin: str, room_id: str, event_id: str, body: Any) -> JsonDict:
        """Check, sign and (when not in the room) record an invite; the answer body."""
        if not isinstance(body, dict):
            raise MatrixError(400, "M_BAD_JSON", "Body must be an object")
        version = body.get("room_version")
        if not isinstance(version, str):
            raise MatrixError(400, "M_MISSING_PARAM", "room_version is required")
        try:
            rv = get_room_version(version)
        except UnknownRoomVersion:
            raise self._incompatible(version) from None
        pdu = body.get("event")
        if not isinstance(pdu, dict):
            raise MatrixError(400, "M_MISSING_PARAM", "event is required")
        try:
            event, redacted = await self.remote.parse(pdu, rv, room_id)
        except PduDropped as exc:
            if exc.reason == "bad_format":
                raise MatrixError(400, "M_BAD_JSON", f"Bad invite event: {exc}") from None
            raise _invalid(f"Bad invite event: {exc}") from None
        if redacted:
            raise _invalid("The invite's content hash does not match")
        if event.event_id != event_id:
            raise _invalid("Event id does not match the path")
        if event.type != "m.room.member" or event.membership != "invite":
            raise _invalid("Not an invite event")
        if _server(event.sender) != origin:
            raise _invalid("The sender is not a user of the asking server")
        if _server(event.state_key) != self.server_name:
            raise _invalid("The invitee is not a user of this server")
        try:
            room = await self.remote.events.get_room(room_id)
        except UnknownRoomVersion as exc:
            raise self._incompatible(exc.identifier) from None
        joined = room is not None and await self.remote.is_joined(room)
        if room is not None and joined and not await self.data.acl_allows(room, origin):
            raise MatrixError(403, "M_FORBIDDEN", "Server is banned by the room's ACL")
        try:
            state = await check_room_state(
                body.get("invite_room_state"), rv, room_id, self.remote.verify
            )
        except CreateVersionMismatch as exc:
            if exc.room_version is not None and exc.room_version not in KNOWN_ROOM_VERSIONS:
                raise self._incompatible(exc.room_version) from None
            raise _invalid(str(exc)) from None
        except BadRoomState as exc:
            raise _invalid(str(exc)) from None
        signed = sign_event(pdu, self.server_name, self.signing_key, rv)
        if not joined:
            stored = Event(strip_unsigned(signed), rv, event.event_id)
            await self.memberships.record(rv, stored, state)
        self.received += 1
        return {"event": signed}

    async def receive_v1(self, origin: str, room_id: str, event_id: str, pdu: Any) -> JsonDict:
        """``PUT /v1/invite/{roomId}/{eventId}``: the body is the invite event, its room
        state in ``unsigned.invite_room_state``; the room version is "1" or "2"
        (invites-v1.yaml), "2" when the state's create event says so. Checked, signed
        and recorded as a v2 invite; the answer body (the route wraps it in
        ``[200, ...]``)."""
        if not isinstance(pdu, dict):
            raise MatrixError(400, "M_BAD_JSON", "Body must be an invite event")
        unsigned = pdu.get("unsigned")
        state = unsigned.get("invite_room_state") if isinstance(unsigned, dict) else None
        body = {
            "room_version": _v1_room_version(state),
            "event": pdu,
            "invite_room_state": state,
        }
        return await self.receive(origin, room_id, event_id, body)

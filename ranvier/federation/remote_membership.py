"""Membership handshakes with a resident server: leaving and knocking from outside.

Spec: server-server-api "Leaving Rooms (Rejecting Invites)" (make_leave, send_leave v2;
leaving-v2.yaml, leaving-v1.yaml for make_leave), "Knocking upon a room" (make_knock,
send_knock; knocks.yaml), and "Joining Rooms" for the shape they share with joins.

Theory of operation
-------------------
A server that is not in a room cannot build a valid event for it (it knows neither the
forward extremities nor the auth events), so it asks a resident server for a template
(``make_*``), fills in the content and ``origin_server_ts``, hashes and signs it, and
hands it back (``send_*``); the resident server runs it through its room input and sends
it to the room. :func:`handshake` does this with one server; :class:`RemoteMembership`
tries candidate servers in order:

* :meth:`RemoteMembership.leave` rejects an invite (or rescinds a knock) to a room this
  server is not in. The candidates are the servers given, the server of whoever sent the
  user's current membership event (the inviter), and the room id's server. The leave is
  then recorded as the user's membership
  (:class:`~ranvier.federation.out_of_room.OutOfRoomMemberships`). When no candidate
  takes it (unreachable, refusing, or no longer in the room), the invite is rejected
  locally: a leave signed here, following the invite, is recorded without reaching the
  room, so that a dead or hostile server cannot pin an invite on a user;
* :meth:`RemoteMembership.knock` knocks on a room this server is not in, through the
  client's ``via`` servers and the room id's server. The answered ``knock_room_state`` is
  checked (:func:`~ranvier.federation.stripped.check_room_state`) and recorded with the
  knock, for ``rooms.knock`` in ``/sync`` (the knock stands once the resident accepted
  it; a state whose create event names an unknown room version is dropped and
  counted).

Servers the room's ACL (as far as this server knows it) denies are not asked.

A room whose version this server does not implement ("Room Versions": a server must
not take part in such rooms) cannot be joined, left or knocked through any server: the
``make_*`` answer names an unknown ``room_version``, or the resident server answers
400 ``M_INCOMPATIBLE_ROOM_VERSION`` (it does not share any version of our ``ver``
list). :func:`handshake` raises :class:`IncompatibleRoomVersion` before anything is
signed or stored; the callers stop trying other servers, count it
(``unknown_room_version``, :mod:`~ranvier.federation.metrics`) and give the client 400
``M_INCOMPATIBLE_ROOM_VERSION`` with the room's version (client-server-api "Common
error codes").
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ranvier.core.builder import build_event, new_v1_event_id
from ranvier.core.events import Event, JsonDict
from ranvier.core.hashes import compute_event_id
from ranvier.core.ids import InvalidIdentifier, server_name_of
from ranvier.core.room_versions import (
    KNOWN_ROOM_VERSIONS,
    EventFormat,
    RoomVersion,
    UnknownRoomVersion,
    get_room_version,
)
from ranvier.core.signing import SigningKey, sign_event
from ranvier.federation.client import FederationClient, FederationError, RemoteError, path_segment
from ranvier.federation.legacy_v1 import put_with_v1_fallback
from ranvier.federation.metrics import RejectHook, ignore_rejection
from ranvier.federation.out_of_room import OutOfRoomMemberships
from ranvier.federation.stripped import BadRoomState, CreateVersionMismatch, check_room_state
from ranvier.http.types import MatrixError
from ranvier.rooms.remote import PduDropped, SignatureCheck

logger = logging.getLogger(__name__)

V1 = "/_matrix/federation/v1"
V2 = "/_matrix/federation/v2"

_PATHS = {
    "join": (f"{V1}/make_join", f"{V2}/send_join"),
    "leave": (f"{V1}/make_leave", f"{V2}/send_leave"),
    "knock": (f"{V1}/make_knock", f"{V1}/send_knock"),
}
_V1_SEND = {"join": f"{V1}/send_join", "leave": f"{V1}/send_leave"}
"""The v1 forms tried when the resident does not know the v2 ones (:mod:`.legacy_v1`)."""


class IncompatibleRoomVersion(ValueError):
    """The room's version is one this server does not implement (module docstring)."""

    def __init__(self, room_version: str | None) -> None:
        super().__init__(f"unsupported room version {room_version!r}")
        self.room_version = room_version

    def to_matrix_error(self) -> MatrixError:
        """The client's answer: 400 ``M_INCOMPATIBLE_ROOM_VERSION`` (with
        ``room_version`` when known)."""
        extra = {} if self.room_version is None else {"room_version": self.room_version}
        return MatrixError(
            400,
            "M_INCOMPATIBLE_ROOM_VERSION",
            "This server does not support the room's version",
            **extra,
        )


def _incompatible(exc: RemoteError) -> IncompatibleRoomVersion | None:
    """The resident's 400 ``M_INCOMPATIBLE_ROOM_VERSION`` as an exception, or None."""
    if exc.status != 400 or exc.errcode != "M_INCOMPATIBLE_ROOM_VERSION":
        return None
    version = exc.body.get("room_version") if isinstance(exc.body, dict) else None
    return IncompatibleRoomVersion(version if isinstance(version, str) else None)


ServerFilter = Callable[[str, str], Awaitable[bool]]
"""``await allowed(room_id, server)``: may ``server`` take part in the room (its ACL)?"""


def _server(identifier: str) -> str | None:
    try:
        return server_name_of(identifier)
    except (InvalidIdentifier, ValueError):
        return None


async def handshake(
    client: FederationClient,
    server_name: str,
    signing_key: SigningKey,
    destination: str,
    room_id: str,
    user_id: str,
    membership: str,
    content: JsonDict,
) -> tuple[RoomVersion, JsonDict, Any]:
    """``make_<membership>`` then ``send_<membership>`` with ``destination``. Returns
    the room version, the signed event sent, and the ``send_*`` answer. Raises
    :class:`FederationError`, :class:`IncompatibleRoomVersion` (nothing is sent then)
    or ValueError (a template that is not for this user, a malformed answer). A resident
    that does not know ``/v2/send_join`` or ``/v2/send_leave`` is sent the v1 form
    (:func:`~ranvier.federation.legacy_v1.put_with_v1_fallback`)."""
    make_path, send_path = _PATHS[membership]
    query = None if membership == "leave" else {"ver": list(KNOWN_ROOM_VERSIONS)}
    try:
        made = await client.get_json(
            destination, f"{make_path}/{path_segment(room_id)}/{path_segment(user_id)}", query
        )
    except RemoteError as exc:
        incompatible = _incompatible(exc)
        if incompatible is not None:
            raise incompatible from None
        raise
    if not isinstance(made, dict):
        raise ValueError(f"make_{membership} answered no object")
    version = made.get("room_version", "1")
    try:
        rv = get_room_version(version if isinstance(version, str) else "")
    except UnknownRoomVersion:
        raise IncompatibleRoomVersion(version if isinstance(version, str) else None) from None
    template = made.get("event")
    if not isinstance(template, dict):
        raise ValueError(f"make_{membership} answered no event")
    pdu = dict(template)
    old_content = pdu.get("content")
    pdu["content"] = {
        **content,
        **(old_content if isinstance(old_content, dict) else {}),
        "membership": membership,
    }
    pdu["origin_server_ts"] = int(time.time() * 1000)
    pdu.pop("origin", None)
    if rv.event_format is EventFormat.V1:
        pdu["event_id"] = new_v1_event_id(server_name)
    if (
        pdu.get("sender") != user_id
        or pdu.get("state_key") != user_id
        or pdu.get("type") != "m.room.member"
        or pdu.get("room_id") != room_id
    ):
        raise ValueError(f"make_{membership} template is not for this user and room")
    signed = sign_event(pdu, server_name, signing_key, rv)
    event_id = compute_event_id(signed, rv)
    tail = f"/{path_segment(room_id)}/{path_segment(event_id)}"
    legacy = _V1_SEND.get(membership)
    answer = await put_with_v1_fallback(
        client,
        destination,
        send_path + tail,
        signed,
        None if legacy is None else legacy + tail,
        signed,
    )
    return rv, signed, answer


class RemoteMembership:
    """Leaves and knocks of local users through resident servers (module docstring)."""

    def __init__(
        self,
        client: FederationClient,
        server_name: str,
        signing_key: SigningKey,
        memberships: OutOfRoomMemberships,
        verify: SignatureCheck,
        allowed: ServerFilter | None = None,
    ) -> None:
        self.client = client
        self.server_name = server_name
        self.signing_key = signing_key
        self.memberships = memberships
        self.verify = verify
        self.allowed = allowed
        self.on_reject: RejectHook = ignore_rejection
        """Counts refusals (:mod:`~ranvier.federation.metrics`)."""

    async def _candidates(self, room_id: str, servers: Sequence[str]) -> list[str]:
        out: list[str] = []
        for server in [*servers, _server(room_id)]:
            if server is None or server == self.server_name or server in out:
                continue
            if self.allowed is not None and not await self.allowed(room_id, server):
                continue
            out.append(server)
        return out

    async def _run(
        self,
        room_id: str,
        user_id: str,
        membership: str,
        servers: Sequence[str],
        content: JsonDict,
    ) -> tuple[RoomVersion, JsonDict, Any]:
        last: Exception | None = None
        forbidden: RemoteError | None = None
        for server in await self._candidates(room_id, servers):
            try:
                return await handshake(
                    self.client,
                    self.server_name,
                    self.signing_key,
                    server,
                    room_id,
                    user_id,
                    membership,
                    content,
                )
            except IncompatibleRoomVersion as exc:
                self.on_reject("unknown_room_version")
                raise exc.to_matrix_error() from None
            except (FederationError, ValueError, KeyError) as exc:
                logger.info("%s of %s through %s failed: %r", membership, room_id, server, exc)
                last = exc
                if isinstance(exc, RemoteError) and exc.status == 403:
                    forbidden = exc
        if forbidden is not None:
            raise MatrixError(403, "M_FORBIDDEN", forbidden.error or f"{membership} refused")
        raise MatrixError(404, "M_NOT_FOUND", f"No server could help to {membership}: {last}")

    async def leave(
        self, room_id: str, user_id: str, servers: Sequence[str], content: JsonDict
    ) -> str:
        """Reject an invite to (or rescind a knock on) a room this server is not in;
        return the leave event id."""
        candidates = list(servers)
        current = await self.memberships.membership_event(room_id, user_id)
        if current is not None:
            with contextlib.suppress(InvalidIdentifier, ValueError):
                candidates.insert(0, server_name_of(current.event.sender))
            via = current.event.pdu.get("origin")
            if isinstance(via, str):
                candidates.append(via)
        try:
            rv, signed, _ = await self._run(room_id, user_id, "leave", candidates, content)
        except MatrixError as exc:
            if current is None or current.event.membership not in ("invite", "knock"):
                raise
            # No resident server would take the leave (gone, refusing, or the room is
            # empty): the invite is still the user's to reject, so it is rejected here.
            logger.info("rejecting %s's %s locally: %s", user_id, room_id, exc.error)
            event = self._local_leave(current.event, content)
            await self.memberships.record(event.room_version, event)
            return event.event_id
        event = Event(signed, rv)
        await self.memberships.record(rv, event)
        return event.event_id

    def _local_leave(self, invite: Event, content: JsonDict) -> Event:
        """A leave built and signed here, following the invite (or knock) it answers.

        It never reaches the room (no resident server accepted it) and is stored as an
        outlier membership only, so the invite leaves ``/sync`` and later invites or
        joins start afresh."""
        user_id = invite.state_key
        assert user_id is not None
        return build_event(
            room_version=invite.room_version,
            room_id=invite.room_id,
            sender=user_id,
            event_type="m.room.member",
            content={**content, "membership": "leave"},
            state_key=user_id,
            prev_events=[invite],
            auth_events=[invite],
            origin=self.server_name,
            signing_key=self.signing_key,
        )

    async def knock(
        self, room_id: str, user_id: str, servers: Sequence[str], content: JsonDict
    ) -> str:
        """Knock on a room this server is not in; return the knock event id."""
        rv, signed, answer = await self._run(room_id, user_id, "knock", servers, content)
        items = answer.get("knock_room_state") if isinstance(answer, dict) else None
        try:
            state = await check_room_state(items, rv, room_id, self.verify)
        except CreateVersionMismatch as exc:
            if exc.room_version not in KNOWN_ROOM_VERSIONS:
                self.on_reject("unknown_room_version")
            logger.info("knock_room_state of %s dropped: %s", room_id, exc)
            state = []
        except (BadRoomState, PduDropped) as exc:
            logger.info("knock_room_state of %s dropped: %s", room_id, exc)
            state = []
        event = Event(signed, rv)
        await self.memberships.record(rv, event, state)
        return event.event_id

"""Room membership over the client API (client-server-api "Room membership":
joining.yaml, inviting.yaml, leaving.yaml, kicking.yaml, banning.yaml, list_joined_rooms.yaml;
"Getting events for a room": members.yaml).

* ``POST /join/{roomIdOrAlias}``, ``POST /rooms/{roomId}/join`` -> ``{"room_id"}``;
  an unknown room is 404 ``M_NOT_FOUND``, a refused join 403 ``M_FORBIDDEN`` (guests
  only where ``m.room.guest_access`` is ``can_join``: :mod:`ranvier.rooms.guest_access`);
* ``POST /rooms/{roomId}/invite|kick|ban|unban`` with ``user_id`` and ``reason``;
  an invite without ``user_id`` but with ``id_server``, ``id_access_token``, ``medium``
  and ``address`` is a third-party invite (third_party_membership.yaml,
  :mod:`ranvier.rooms.third_party_invites`); ``/join`` with ``third_party_signed``
  turns the signed third-party invite into an invite first;
* ``POST /rooms/{roomId}/leave`` with ``reason``;
* ``GET /joined_rooms``, ``GET /rooms/{roomId}/joined_members``,
  ``GET /rooms/{roomId}/members`` (``membership``/``not_membership`` filters, ``at``: a
  sync or pagination token, :func:`ranvier.sync.tokens.parse_position`);
* ``POST /knock/{roomIdOrAlias}`` with ``reason`` (knocking.yaml; ``via`` and the
  deprecated ``server_name``: servers to knock through on rooms this server is not in)
  -> ``{"room_id"}``;
* ``POST /rooms/{roomId}/forget`` (leaving.yaml).
"""

from __future__ import annotations

from ranvier.api.auth import require_user
from ranvier.api.client.common import V3, RouteDef, check_room_id, check_user_id
from ranvier.http.parse import optional_str, parse_json_body_or_empty, query_list, require_str
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.rooms.guest_access import GuestAccess
from ranvier.rooms.membership import MembershipService
from ranvier.rooms.service import RoomService
from ranvier.rooms.third_party_invites import ThirdPartyInvites
from ranvier.sync.tokens import parse_position

_MEMBERSHIPS = ("join", "invite", "knock", "leave", "ban")


class MembershipApi:
    """Serves membership changes and member lists."""

    def __init__(
        self,
        rooms: RoomService,
        membership: MembershipService,
        guest_access: GuestAccess | None = None,
        third_party: ThirdPartyInvites | None = None,
    ) -> None:
        self.rooms = rooms
        self.membership = membership
        self.guest_access = guest_access
        self.third_party = third_party

    async def join(self, request: Request) -> Response:
        """``POST /join/{roomIdOrAlias}`` and ``POST /rooms/{roomId}/join``."""
        requester = await require_user(request)
        target = request.path_params.get("roomIdOrAlias") or request.path_params["roomId"]
        body = parse_json_body_or_empty(request)
        guest_check = requester.is_guest and self.guest_access is not None
        held = True
        if guest_check:
            assert self.guest_access is not None
            await self.guest_access.check_join(target)
            held = await self.guest_access.held(target)
        # ``via`` (v1.12+) and the deprecated ``server_name``: servers to join through
        # when this server is not in the room yet.
        servers = [*query_list(request, "via"), *query_list(request, "server_name")]
        signed = body.get("third_party_signed")
        if signed is not None:
            if self.third_party is None:
                raise MatrixError(400, "M_UNRECOGNIZED", "Third-party invites are not supported")
            if not target.startswith("!"):
                target = (await self.membership.resolve_room(target)).room_id
            await self.third_party.accept_signed(target, requester.user_id, signed)
        room_id = await self.membership.join(
            target, requester.user_id, optional_str(body, "reason"), servers
        )
        if guest_check and not held:
            assert self.guest_access is not None
            await self.guest_access.check_after_join(room_id, requester.user_id)
        return json_response({"room_id": room_id})

    async def _targeted(self, request: Request) -> tuple[str, str, str, str | None]:
        requester = await require_user(request)
        room_id = request.path_params["roomId"]
        check_room_id(room_id)
        body = parse_json_body_or_empty(request)
        target = require_str(body, "user_id")
        check_user_id(target)
        return requester.user_id, room_id, target, optional_str(body, "reason")

    async def invite(self, request: Request) -> Response:
        """``POST /rooms/{roomId}/invite`` (by user id, or by third-party identifier)."""
        body = parse_json_body_or_empty(request)
        if "user_id" not in body and "id_server" in body and self.third_party is not None:
            requester = await require_user(request)
            room_id = request.path_params["roomId"]
            check_room_id(room_id)
            await self.third_party.invite(
                room_id,
                requester.user_id,
                id_server=require_str(body, "id_server"),
                id_access_token=require_str(body, "id_access_token"),
                medium=require_str(body, "medium"),
                address=require_str(body, "address"),
            )
            return json_response({})
        sender, room_id, target, reason = await self._targeted(request)
        await self.membership.invite(room_id, sender, target, reason)
        return json_response({})

    async def kick(self, request: Request) -> Response:
        """``POST /rooms/{roomId}/kick``."""
        sender, room_id, target, reason = await self._targeted(request)
        await self.membership.kick(room_id, sender, target, reason)
        return json_response({})

    async def ban(self, request: Request) -> Response:
        """``POST /rooms/{roomId}/ban``."""
        sender, room_id, target, reason = await self._targeted(request)
        await self.membership.ban(room_id, sender, target, reason)
        return json_response({})

    async def unban(self, request: Request) -> Response:
        """``POST /rooms/{roomId}/unban``."""
        sender, room_id, target, reason = await self._targeted(request)
        await self.membership.unban(room_id, sender, target, reason)
        return json_response({})

    async def leave(self, request: Request) -> Response:
        """``POST /rooms/{roomId}/leave``."""
        requester = await require_user(request)
        room_id = request.path_params["roomId"]
        check_room_id(room_id)
        body = parse_json_body_or_empty(request)
        await self.membership.leave(room_id, requester.user_id, optional_str(body, "reason"))
        return json_response({})

    async def joined_rooms(self, request: Request) -> Response:
        """``GET /joined_rooms``."""
        requester = await require_user(request)
        return json_response({"joined_rooms": await self.rooms.joined_rooms(requester.user_id)})

    async def joined_members(self, request: Request) -> Response:
        """``GET /rooms/{roomId}/joined_members``."""
        requester = await require_user(request)
        room_id = request.path_params["roomId"]
        check_room_id(room_id)
        joined = await self.rooms.joined_members(room_id, requester.user_id)
        return json_response({"joined": joined})

    async def members(self, request: Request) -> Response:
        """``GET /rooms/{roomId}/members`` (``membership``, ``not_membership``)."""
        requester = await require_user(request)
        room_id = request.path_params["roomId"]
        check_room_id(room_id)
        filters = {}
        for name in ("membership", "not_membership"):
            value = request.query_one(name)
            if value is not None and value not in _MEMBERSHIPS:
                raise MatrixError(400, "M_INVALID_PARAM", f"Invalid {name}")
            filters[name] = value
        at_token = request.query_one("at")
        at = None if at_token is None else parse_position(at_token, "at")
        chunk = await self.membership.members(
            room_id, requester.user_id, filters["membership"], filters["not_membership"], at
        )
        return json_response({"chunk": chunk})

    async def knock(self, request: Request) -> Response:
        """``POST /knock/{roomIdOrAlias}``."""
        requester = await require_user(request)
        body = parse_json_body_or_empty(request)
        servers = [*query_list(request, "via"), *query_list(request, "server_name")]
        room_id = await self.membership.knock(
            request.path_params["roomIdOrAlias"],
            requester.user_id,
            optional_str(body, "reason"),
            servers,
        )
        return json_response({"room_id": room_id})

    async def forget(self, request: Request) -> Response:
        """``POST /rooms/{roomId}/forget``."""
        requester = await require_user(request)
        room_id = request.path_params["roomId"]
        check_room_id(room_id)
        await self.membership.forget(room_id, requester.user_id)
        return json_response({})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        room = f"{V3}/rooms/{{roomId}}"
        return [
            ("POST", f"{V3}/join/{{roomIdOrAlias}}", self.join),
            ("POST", f"{room}/join", self.join),
            ("POST", f"{room}/invite", self.invite),
            ("POST", f"{room}/leave", self.leave),
            ("POST", f"{room}/kick", self.kick),
            ("POST", f"{room}/ban", self.ban),
            ("POST", f"{room}/unban", self.unban),
            ("GET", f"{V3}/joined_rooms", self.joined_rooms),
            ("GET", f"{room}/joined_members", self.joined_members),
            ("GET", f"{room}/members", self.members),
            ("POST", f"{V3}/knock/{{roomIdOrAlias}}", self.knock),
            ("POST", f"{room}/forget", self.forget),
        ]

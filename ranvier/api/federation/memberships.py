"""Membership endpoints of the Server-Server API besides joins: invites, leaves, knocks
and third-party invite exchange.

Spec: server-server-api "Inviting to a room" (``PUT /v2/invite/{roomId}/{eventId}``,
invites-v2.yaml; ``PUT /v1/invite``, invites-v1.yaml), "Leaving Rooms (Rejecting
Invites)" (``GET /v1/make_leave``, ``PUT /v2/send_leave``; leaving-v1.yaml,
leaving-v2.yaml; the legacy ``PUT /v1/send_leave``, removed from the spec in v1.18, is
still served: :mod:`ranvier.federation.legacy_v1`), "Knocking upon a room"
(``GET /v1/make_knock?ver=``, ``PUT /v1/send_knock``; knocks.yaml), "Third-party
invites" (``PUT /v1/exchange_third_party_invite/{roomId}``, third_party_invite.yaml).
Thin handlers: authenticate the origin, parse, call the service. ``make_knock`` requires
``ver`` (400 ``M_MISSING_PARAM``), as knocks.yaml marks it required.
"""

from __future__ import annotations

from ranvier.api.client.common import RouteDef
from ranvier.api.federation import FEDERATION_V1
from ranvier.api.federation.legacy_send import legacy_send
from ranvier.federation.inbound_auth import ServerAuthenticator
from ranvier.federation.invites import InviteReceiver
from ranvier.federation.joins import JoinResident
from ranvier.federation.legacy_v1 import wrap_v1
from ranvier.federation.third_party import ThirdPartyExchange
from ranvier.http.parse import parse_json
from ranvier.http.types import MatrixError, Request, Response, json_response

FEDERATION_V2 = "/_matrix/federation/v2"


class FederationMembershipApi:
    """Invites, leaves, knocks and third-party invites from other servers."""

    def __init__(
        self,
        resident: JoinResident,
        invites: InviteReceiver,
        third_party: ThirdPartyExchange,
        auth: ServerAuthenticator,
    ) -> None:
        self.resident = resident
        self.invites = invites
        self.third_party = third_party
        self.auth = auth

    async def invite(self, request: Request) -> Response:
        """``PUT /v2/invite/{roomId}/{eventId}``."""
        origin = await self.auth.require_server(request)
        answer = await self.invites.receive(
            origin,
            request.path_params["roomId"],
            request.path_params["eventId"],
            parse_json(request.body),
        )
        return json_response(answer)

    async def invite_v1(self, request: Request) -> Response:
        """``PUT /v1/invite/{roomId}/{eventId}``: the event as the body, the answer as
        ``[200, {"event": ...}]`` (invites-v1.yaml)."""
        origin = await self.auth.require_server(request)
        answer = await self.invites.receive_v1(
            origin,
            request.path_params["roomId"],
            request.path_params["eventId"],
            parse_json(request.body),
        )
        return json_response(wrap_v1(answer))

    async def make_leave(self, request: Request) -> Response:
        """``GET /v1/make_leave/{roomId}/{userId}``."""
        origin = await self.auth.require_server(request)
        answer = await self.resident.make_membership(
            origin, request.path_params["roomId"], request.path_params["userId"], "leave", None
        )
        return json_response(answer)

    async def send_leave(self, request: Request) -> Response:
        """``PUT /v2/send_leave/{roomId}/{eventId}``."""
        origin = await self.auth.require_server(request)
        answer = await self.resident.send_leave(
            origin,
            request.path_params["roomId"],
            request.path_params["eventId"],
            parse_json(request.body),
        )
        return json_response(answer)

    async def send_leave_v1(self, request: Request) -> Response:
        """``PUT /v1/send_leave/{roomId}/{eventId}`` (legacy): ``[200, {}]``; a bad
        signature or sender is 403 (:meth:`MembershipRefused.legacy`)."""
        return await legacy_send(request, self.auth, self.resident.send_leave)

    async def make_knock(self, request: Request) -> Response:
        """``GET /v1/make_knock/{roomId}/{userId}?ver=...``."""
        origin = await self.auth.require_server(request)
        versions = list(request.query.get("ver", ()))
        if not versions:
            raise MatrixError(400, "M_MISSING_PARAM", "Missing parameter: ver")
        answer = await self.resident.make_membership(
            origin,
            request.path_params["roomId"],
            request.path_params["userId"],
            "knock",
            versions,
        )
        return json_response(answer)

    async def send_knock(self, request: Request) -> Response:
        """``PUT /v1/send_knock/{roomId}/{eventId}``."""
        origin = await self.auth.require_server(request)
        answer = await self.resident.send_knock(
            origin,
            request.path_params["roomId"],
            request.path_params["eventId"],
            parse_json(request.body),
        )
        return json_response(answer)

    async def exchange_third_party_invite(self, request: Request) -> Response:
        """``PUT /v1/exchange_third_party_invite/{roomId}``."""
        origin = await self.auth.require_server(request)
        await self.third_party.exchange(
            origin, request.path_params["roomId"], parse_json(request.body)
        )
        return json_response({})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        v1, v2 = FEDERATION_V1, FEDERATION_V2
        return [
            ("PUT", f"{v2}/invite/{{roomId}}/{{eventId}}", self.invite),
            ("PUT", f"{v1}/invite/{{roomId}}/{{eventId}}", self.invite_v1),
            ("GET", f"{v1}/make_leave/{{roomId}}/{{userId}}", self.make_leave),
            ("PUT", f"{v2}/send_leave/{{roomId}}/{{eventId}}", self.send_leave),
            ("PUT", f"{v1}/send_leave/{{roomId}}/{{eventId}}", self.send_leave_v1),
            ("GET", f"{v1}/make_knock/{{roomId}}/{{userId}}", self.make_knock),
            ("PUT", f"{v1}/send_knock/{{roomId}}/{{eventId}}", self.send_knock),
            (
                "PUT",
                f"{v1}/exchange_third_party_invite/{{roomId}}",
                self.exchange_third_party_invite,
            ),
        ]

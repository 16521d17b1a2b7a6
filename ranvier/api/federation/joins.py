"""``GET /_matrix/federation/v1/make_join/{roomId}/{userId}`` and
``PUT /_matrix/federation/v2/send_join/{roomId}/{eventId}`` (server-server-api
"Joining Rooms"; joins-v1.yaml, joins-v2.yaml). Thin handlers over
:class:`~ranvier.federation.joins.JoinResident`; ``ver`` defaults to ``["1"]`` as the
spec says; ``omit_members`` (``true``/``false``, 400 ``M_INVALID_PARAM`` otherwise)
asks for partial state (:mod:`ranvier.federation.join_state`). The legacy
``PUT /v1/send_join`` (removed from the spec in v1.18, still used by old servers and
SyTest) answers the same as ``[200, {...}]`` (:mod:`ranvier.federation.legacy_v1`).
"""

from __future__ import annotations

from ranvier.api.client.common import RouteDef
from ranvier.api.federation import FEDERATION_V1
from ranvier.api.federation.legacy_send import legacy_send
from ranvier.federation.inbound_auth import ServerAuthenticator
from ranvier.federation.joins import JoinResident
from ranvier.http.parse import parse_json, query_bool
from ranvier.http.types import Request, Response, json_response


class FederationJoinApi:
    """Lets users of other servers join rooms this server is in."""

    def __init__(self, resident: JoinResident, auth: ServerAuthenticator) -> None:
        self.resident = resident
        self.auth = auth

    async def make_join(self, request: Request) -> Response:
        """``GET /v1/make_join/{roomId}/{userId}``."""
        origin = await self.auth.require_server(request)
        versions = list(request.query.get("ver", ())) or ["1"]
        answer = await self.resident.make_join(
            origin, request.path_params["roomId"], request.path_params["userId"], versions
        )
        return json_response(answer)

    async def send_join(self, request: Request) -> Response:
        """``PUT /v2/send_join/{roomId}/{eventId}[?omit_members=true]``."""
        origin = await self.auth.require_server(request)
        omit_members = bool(query_bool(request, "omit_members", False))
        answer = await self.resident.send_join(
            origin,
            request.path_params["roomId"],
            request.path_params["eventId"],
            parse_json(request.body),
            omit_members=omit_members,
        )
        return json_response(answer)

    async def send_join_v1(self, request: Request) -> Response:
        """``PUT /v1/send_join/{roomId}/{eventId}`` (legacy, :mod:`.legacy_v1`): the v2
        answer (whole state) as ``[200, answer]``; a bad signature or sender is 403."""
        return await legacy_send(request, self.auth, self.resident.send_join)

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [
            ("GET", f"{FEDERATION_V1}/make_join/{{roomId}}/{{userId}}", self.make_join),
            ("PUT", "/_matrix/federation/v2/send_join/{roomId}/{eventId}", self.send_join),
            ("PUT", f"{FEDERATION_V1}/send_join/{{roomId}}/{{eventId}}", self.send_join_v1),
        ]

"""Directory endpoints of the Server-Server API: ``GET /query/directory``,
``GET``/``POST /publicRooms`` and ``GET /hierarchy/{roomId}``.

Spec: server-server-api "Querying for information" (query.yaml), "Public Room
Directory" (public_rooms.yaml), "Spaces" (space_hierarchy.yaml). Thin handlers:
authenticate the origin, parse, ask :class:`~ranvier.federation.directory.DirectoryResident`.
"""

from __future__ import annotations

from typing import Any

from ranvier.api.client.common import RouteDef
from ranvier.api.federation import FEDERATION_V1
from ranvier.federation.directory import DirectoryResident
from ranvier.federation.inbound_auth import ServerAuthenticator
from ranvier.http.parse import (
    optional_bool,
    optional_dict,
    optional_int,
    optional_str,
    parse_json_body_or_empty,
    query_bool,
    query_int,
    query_str,
)
from ranvier.http.types import MatrixError, Request, Response, json_response


class FederationDirectoryApi:
    """Aliases, the room directory and space hierarchies for other servers."""

    def __init__(self, resident: DirectoryResident, auth: ServerAuthenticator) -> None:
        self.resident = resident
        self.auth = auth

    async def query_directory(self, request: Request) -> Response:
        """``GET /query/directory?room_alias=``."""
        await self.auth.require_server(request)
        return json_response(await self.resident.query_alias(query_str(request, "room_alias")))

    async def get_public_rooms(self, request: Request) -> Response:
        """``GET /publicRooms``."""
        await self.auth.require_server(request)
        answer = await self.resident.public_rooms(
            limit=query_int(request, "limit", minimum=0),
            since=request.query_one("since"),
            include_all_networks=bool(query_bool(request, "include_all_networks", False)),
            third_party_instance_id=request.query_one("third_party_instance_id"),
        )
        return json_response(answer)

    async def post_public_rooms(self, request: Request) -> Response:
        """``POST /publicRooms``."""
        await self.auth.require_server(request)
        body = parse_json_body_or_empty(request)
        limit = optional_int(body, "limit")
        if limit is not None and limit < 0:
            raise MatrixError(400, "M_INVALID_PARAM", "limit must not be negative")
        flt = optional_dict(body, "filter") or {}
        room_types: Any = flt.get("room_types")
        if room_types is not None and (
            not isinstance(room_types, list)
            or not all(t is None or isinstance(t, str) for t in room_types)
        ):
            raise MatrixError(400, "M_INVALID_PARAM", "room_types must list strings or null")
        answer = await self.resident.public_rooms(
            limit=limit,
            since=optional_str(body, "since"),
            search_term=optional_str(flt, "generic_search_term"),
            room_types=room_types,
            third_party_instance_id=optional_str(body, "third_party_instance_id"),
            include_all_networks=bool(optional_bool(body, "include_all_networks", False)),
        )
        return json_response(answer)

    async def hierarchy(self, request: Request) -> Response:
        """``GET /hierarchy/{roomId}?suggested_only=``."""
        origin = await self.auth.require_server(request)
        answer = await self.resident.hierarchy(
            origin,
            request.path_params["roomId"],
            bool(query_bool(request, "suggested_only", False)),
        )
        return json_response(answer)

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        v1 = FEDERATION_V1
        return [
            ("GET", f"{v1}/query/directory", self.query_directory),
            ("GET", f"{v1}/publicRooms", self.get_public_rooms),
            ("POST", f"{v1}/publicRooms", self.post_public_rooms),
            ("GET", f"{v1}/hierarchy/{{roomId}}", self.hierarchy),
        ]

"""Room aliases and the published room directory over the client API.

Spec: client-server-api "Room aliases" (directory.yaml) and "Published room
directory" (list_public_rooms.yaml):

* ``PUT|GET|DELETE /directory/room/{roomAlias}``, ``GET /rooms/{roomId}/aliases``
  (:class:`ranvier.rooms.aliases.AliasService`); ``GET`` of an alias needs no access
  token, as the spec defines no security for it;
* ``GET|PUT /directory/list/room/{roomId}`` (``GET`` needs no token);
* ``GET /publicRooms`` (no token needed; ``limit``, ``since``, ``server``) and
  ``POST /publicRooms`` (token; ``limit``, ``since``, ``filter`` with
  ``generic_search_term`` and ``room_types``, ``include_all_networks``,
  ``third_party_instance_id``) (:class:`ranvier.rooms.directory.DirectoryService`).
"""

from __future__ import annotations

from ranvier.api.auth import CONTEXT_KEY, Authenticator, Requester, require_user
from ranvier.api.client.common import V3, RouteDef, check_room_id, room_id_param
from ranvier.http.parse import (
    optional_bool,
    optional_dict,
    optional_int,
    optional_str,
    parse_json_body,
    parse_json_body_or_empty,
    query_int,
    require_str,
)
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.rooms.aliases import AliasService
from ranvier.rooms.directory import DirectoryService


async def optional_requester(request: Request) -> Requester | None:
    """The requester when the request carries an access token (a bad one is 401)."""
    auth = request.context.get(CONTEXT_KEY)
    if not isinstance(auth, Authenticator):
        raise RuntimeError("route was not registered through with_authenticator()")
    return await auth.optional_user(request)


class DirectoryApi:
    """Serves aliases, directory visibility and ``/publicRooms``."""

    def __init__(self, aliases: AliasService, directory: DirectoryService) -> None:
        self.aliases = aliases
        self.directory = directory

    async def put_alias(self, request: Request) -> Response:
        """``PUT /directory/room/{roomAlias}``."""
        requester = await require_user(request)
        body = parse_json_body(request)
        room_id = require_str(body, "room_id")
        check_room_id(room_id)
        await self.aliases.set_alias(requester.user_id, request.path_params["roomAlias"], room_id)
        return json_response({})

    async def get_alias(self, request: Request) -> Response:
        """``GET /directory/room/{roomAlias}``."""
        await optional_requester(request)
        room_id, servers = await self.aliases.resolve(request.path_params["roomAlias"])
        return json_response({"room_id": room_id, "servers": servers})

    async def delete_alias(self, request: Request) -> Response:
        """``DELETE /directory/room/{roomAlias}``."""
        requester = await require_user(request)
        await self.aliases.delete_alias(requester.user_id, request.path_params["roomAlias"])
        return json_response({})

    async def room_aliases(self, request: Request) -> Response:
        """``GET /rooms/{roomId}/aliases``."""
        requester = await require_user(request)
        room_id = room_id_param(request)
        found = await self.aliases.local_aliases(requester.user_id, room_id)
        return json_response({"aliases": found})

    async def get_visibility(self, request: Request) -> Response:
        """``GET /directory/list/room/{roomId}``."""
        await optional_requester(request)
        room_id = room_id_param(request)
        return json_response({"visibility": await self.directory.get_visibility(room_id)})

    async def put_visibility(self, request: Request) -> Response:
        """``PUT /directory/list/room/{roomId}`` (``visibility`` defaults to ``public``)."""
        requester = await require_user(request)
        room_id = room_id_param(request)
        body = parse_json_body_or_empty(request)
        visibility = optional_str(body, "visibility", "public")
        assert visibility is not None
        await self.directory.set_visibility(requester.user_id, room_id, visibility)
        return json_response({})

    async def get_public_rooms(self, request: Request) -> Response:
        """``GET /publicRooms``."""
        await optional_requester(request)
        result = await self.directory.public_rooms(
            limit=query_int(request, "limit", minimum=0),
            since=request.query_one("since"),
            server=request.query_one("server"),
        )
        return json_response(result)

    async def post_public_rooms(self, request: Request) -> Response:
        """``POST /publicRooms``."""
        await require_user(request)
        body = parse_json_body_or_empty(request)
        limit = optional_int(body, "limit")
        if limit is not None and limit < 0:
            raise MatrixError(400, "M_INVALID_PARAM", "limit must not be negative")
        flt = optional_dict(body, "filter") or {}
        term = optional_str(flt, "generic_search_term")
        room_types = flt.get("room_types")
        if room_types is not None and (
            not isinstance(room_types, list)
            or not all(t is None or isinstance(t, str) for t in room_types)
        ):
            raise MatrixError(400, "M_INVALID_PARAM", "room_types must list strings or null")
        result = await self.directory.public_rooms(
            limit=limit,
            since=optional_str(body, "since"),
            search_term=term,
            room_types=room_types,
            server=request.query_one("server"),
            third_party_instance_id=optional_str(body, "third_party_instance_id"),
            include_all_networks=bool(optional_bool(body, "include_all_networks", False)),
        )
        return json_response(result)

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        alias = f"{V3}/directory/room/{{roomAlias}}"
        listing = f"{V3}/directory/list/room/{{roomId}}"
        return [
            ("PUT", alias, self.put_alias),
            ("GET", alias, self.get_alias),
            ("DELETE", alias, self.delete_alias),
            ("GET", f"{V3}/rooms/{{roomId}}/aliases", self.room_aliases),
            ("GET", listing, self.get_visibility),
            ("PUT", listing, self.put_visibility),
            ("GET", f"{V3}/publicRooms", self.get_public_rooms),
            ("POST", f"{V3}/publicRooms", self.post_public_rooms),
        ]

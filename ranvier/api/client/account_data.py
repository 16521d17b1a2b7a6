"""Account data and room tags (client-server-api "Client Config", account-data.yaml;
"Room Tagging", tags.yaml).

Only the owner may read or write (403 ``M_FORBIDDEN``). ``m.fully_read`` and
``m.push_rules`` are managed through their own APIs and refused here with 405
``M_BAD_JSON``, as account-data.yaml specifies.
"""

from __future__ import annotations

from ranvier.api.auth import Authenticator, Requester
from ranvier.api.client.common import V3, RouteDef, check_room_id, ensure_self
from ranvier.http.parse import parse_json_body
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.users.account_data import SERVER_MANAGED_TYPES, AccountDataStore


class AccountDataApi:
    """Serves global and per-room account data and tags."""

    def __init__(self, store: AccountDataStore, auth: Authenticator) -> None:
        self.store = store
        self.auth = auth

    async def _owner(self, request: Request) -> Requester:
        requester = await self.auth.require_user(request)
        ensure_self(requester, request.path_params["userId"], "another user's account data")
        room_id = request.path_params.get("roomId")
        if room_id is not None:
            check_room_id(room_id)
        return requester

    async def put(self, request: Request) -> Response:
        """``PUT /user/{userId}[/rooms/{roomId}]/account_data/{type}``."""
        requester = await self._owner(request)
        data_type = request.path_params["type"]
        content = parse_json_body(request)
        if data_type in SERVER_MANAGED_TYPES:
            raise MatrixError(405, "M_BAD_JSON", f"Cannot set {data_type} through this API.")
        await self.store.put(
            requester.user_id, request.path_params.get("roomId"), data_type, content
        )
        return json_response({})

    async def get(self, request: Request) -> Response:
        """``GET /user/{userId}[/rooms/{roomId}]/account_data/{type}``."""
        requester = await self._owner(request)
        content = await self.store.get(
            requester.user_id, request.path_params.get("roomId"), request.path_params["type"]
        )
        if content is None:
            raise MatrixError(404, "M_NOT_FOUND", "Account data not found")
        return json_response(content)

    async def get_tags(self, request: Request) -> Response:
        """``GET /user/{userId}/rooms/{roomId}/tags``."""
        requester = await self._owner(request)
        tags = await self.store.get_tags(requester.user_id, request.path_params["roomId"])
        return json_response({"tags": tags})

    async def put_tag(self, request: Request) -> Response:
        """``PUT /user/{userId}/rooms/{roomId}/tags/{tag}``."""
        requester = await self._owner(request)
        body = parse_json_body(request)
        await self.store.set_tag(
            requester.user_id, request.path_params["roomId"], request.path_params["tag"], body
        )
        return json_response({})

    async def delete_tag(self, request: Request) -> Response:
        """``DELETE /user/{userId}/rooms/{roomId}/tags/{tag}``."""
        requester = await self._owner(request)
        await self.store.remove_tag(
            requester.user_id, request.path_params["roomId"], request.path_params["tag"]
        )
        return json_response({})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        user = f"{V3}/user/{{userId}}"
        room = f"{user}/rooms/{{roomId}}"
        return [
            ("PUT", f"{user}/account_data/{{type}}", self.put),
            ("GET", f"{user}/account_data/{{type}}", self.get),
            ("PUT", f"{room}/account_data/{{type}}", self.put),
            ("GET", f"{room}/account_data/{{type}}", self.get),
            ("GET", f"{room}/tags", self.get_tags),
            ("PUT", f"{room}/tags/{{tag}}", self.put_tag),
            ("DELETE", f"{room}/tags/{{tag}}", self.delete_tag),
        ]

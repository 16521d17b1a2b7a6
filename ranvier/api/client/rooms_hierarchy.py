"""``GET /_matrix/client/v1/rooms/{roomId}/hierarchy`` (client-server-api "Spaces",
space_hierarchy.yaml).

Thin handler over :class:`ranvier.rooms.hierarchy.HierarchyService`: query parameters
``suggested_only`` (``true``/``false``), ``max_depth`` (>= 0), ``limit`` (> 0) and
``from`` (a ``next_batch``); 400 ``M_INVALID_PARAM`` for bad values.
"""

from __future__ import annotations

from ranvier.api.auth import require_user
from ranvier.api.client.common import V1, RouteDef, room_id_param
from ranvier.http.parse import query_bool, query_int
from ranvier.http.types import Request, Response, json_response
from ranvier.rooms.hierarchy import HierarchyService


class HierarchyApi:
    """Serves the space hierarchy."""

    def __init__(self, hierarchy: HierarchyService) -> None:
        self.hierarchy = hierarchy

    async def get_hierarchy(self, request: Request) -> Response:
        """``GET /rooms/{roomId}/hierarchy``."""
        requester = await require_user(request)
        room_id = room_id_param(request)
        result = await self.hierarchy.hierarchy(
            requester.user_id,
            room_id,
            suggested_only=bool(query_bool(request, "suggested_only", False)),
            max_depth=query_int(request, "max_depth", minimum=0),
            limit=query_int(request, "limit", minimum=1),
            from_token=request.query_one("from"),
        )
        return json_response(result)

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [("GET", f"{V1}/rooms/{{roomId}}/hierarchy", self.get_hierarchy)]

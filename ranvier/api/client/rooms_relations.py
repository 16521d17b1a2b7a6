"""``GET /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]`` (relations.yaml)
and ``GET /rooms/{roomId}/threads`` (threads_list.yaml), both under ``/_matrix/client/v1``.

Thin handlers over :class:`ranvier.rooms.relations.RelationService`: query parameters
``from``, ``to``, ``limit``, ``dir`` (``b``/``f``) and ``recurse`` (v1.10) for relations;
``include`` (``all``/``participated``), ``from`` and ``limit`` for threads.
"""

from __future__ import annotations

from ranvier.api.auth import require_user
from ranvier.api.client.common import V1, RouteDef, room_id_param
from ranvier.http.parse import query_bool, query_int
from ranvier.http.types import Request, Response, json_response
from ranvier.rooms.relations import RelationService


class RelationsApi:
    """Serves relations and thread lists."""

    def __init__(self, relations: RelationService) -> None:
        self.relations = relations

    async def get_relations(self, request: Request) -> Response:
        """``GET /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]``."""
        requester = await require_user(request)
        room_id = room_id_param(request)
        body = await self.relations.relations(
            room_id,
            request.path_params["eventId"],
            requester.user_id,
            device_id=requester.device_id,
            rel_type=request.path_params.get("relType"),
            event_type=request.path_params.get("eventType"),
            from_token=request.query_one("from"),
            to_token=request.query_one("to"),
            limit=query_int(request, "limit"),
            direction=request.query_one("dir") or "b",
            recurse=query_bool(request, "recurse"),
        )
        return json_response(body)

    async def get_threads(self, request: Request) -> Response:
        """``GET /rooms/{roomId}/threads``."""
        requester = await require_user(request)
        room_id = room_id_param(request)
        body = await self.relations.threads(
            room_id,
            requester.user_id,
            device_id=requester.device_id,
            include=request.query_one("include") or "all",
            from_token=request.query_one("from"),
            limit=query_int(request, "limit"),
        )
        return json_response(body)

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        base = f"{V1}/rooms/{{roomId}}"
        return [
            ("GET", f"{base}/relations/{{eventId}}", self.get_relations),
            ("GET", f"{base}/relations/{{eventId}}/{{relType}}", self.get_relations),
            ("GET", f"{base}/relations/{{eventId}}/{{relType}}/{{eventType}}", self.get_relations),
            ("GET", f"{base}/threads", self.get_threads),
        ]

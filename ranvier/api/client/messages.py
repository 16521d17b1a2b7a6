"""``GET /rooms/{roomId}/messages`` and ``GET /rooms/{roomId}/context/{eventId}``
(client-server-api "Getting events for a room", message_pagination.yaml,
event_context.yaml).

Thin handlers over :class:`ranvier.sync.pagination.PaginationService`: ``dir`` is
required (``b`` or ``f``, else 400 ``M_INVALID_PARAM``), ``from``/``to`` are sync or
pagination tokens, ``limit`` defaults to 10, ``filter`` is a JSON ``RoomEventFilter``.
"""

from __future__ import annotations

from ranvier.api.auth import require_user
from ranvier.api.client.common import V3, RouteDef, query_dir, room_id_param
from ranvier.http.parse import query_int
from ranvier.http.types import Request, Response, json_response
from ranvier.sync.filters import parse_room_event_filter_param
from ranvier.sync.pagination import DEFAULT_LIMIT, PaginationService
from ranvier.sync.tokens import parse_position


class MessagesApi:
    """Serves ``/messages`` and ``/context``."""

    def __init__(self, pagination: PaginationService) -> None:
        self.pagination = pagination

    async def messages(self, request: Request) -> Response:
        """``GET /rooms/{roomId}/messages``."""
        requester = await require_user(request)
        room_id = room_id_param(request)
        direction = query_dir(request)
        from_token = request.query_one("from") or None
        to_token = request.query_one("to") or None
        body = await self.pagination.messages(
            room_id,
            requester.user_id,
            requester.device_id,
            backwards=direction == "b",
            from_pos=None if from_token is None else parse_position(from_token, "from"),
            from_token=from_token,
            to_pos=None if to_token is None else parse_position(to_token, "to"),
            limit=query_int(request, "limit", DEFAULT_LIMIT, minimum=0) or 0,
            flt=parse_room_event_filter_param(request.query_one("filter")),
        )
        return json_response(body)

    async def context(self, request: Request) -> Response:
        """``GET /rooms/{roomId}/context/{eventId}``."""
        requester = await require_user(request)
        room_id = room_id_param(request)
        body = await self.pagination.context(
            room_id,
            request.path_params["eventId"],
            requester.user_id,
            requester.device_id,
            limit=query_int(request, "limit", DEFAULT_LIMIT, minimum=0) or 0,
            flt=parse_room_event_filter_param(request.query_one("filter")),
        )
        return json_response(body)

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [
            ("GET", f"{V3}/rooms/{{roomId}}/messages", self.messages),
            ("GET", f"{V3}/rooms/{{roomId}}/context/{{eventId}}", self.context),
        ]

"""``GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event`` (client-server-api "Room
participation", room_event_by_timestamp.yaml, added in v1.6).

Thin handler over :class:`ranvier.sync.timestamps.TimestampLookup`: ``ts`` (an integer,
milliseconds since the Unix epoch) and ``dir`` (``f`` or ``b``) are both required
(400 ``M_MISSING_PARAM`` when absent, ``M_INVALID_PARAM`` when malformed); the answer is
``{"event_id", "origin_server_ts"}`` or 404 ``M_NOT_FOUND``.
"""

from __future__ import annotations

from ranvier.api.auth import require_user
from ranvier.api.client.common import V1, RouteDef, query_dir, room_id_param
from ranvier.http.parse import query_int
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.sync.timestamps import TimestampLookup


class TimestampApi:
    """Serves ``/timestamp_to_event``."""

    def __init__(self, lookup: TimestampLookup) -> None:
        self.lookup = lookup

    async def timestamp_to_event(self, request: Request) -> Response:
        """``GET /v1/rooms/{roomId}/timestamp_to_event``."""
        requester = await require_user(request)
        room_id = room_id_param(request)
        ts = query_int(request, "ts")
        if ts is None:
            raise MatrixError(400, "M_MISSING_PARAM", "Missing parameter: ts")
        direction = query_dir(request)
        body = await self.lookup.closest(room_id, requester.user_id, ts, direction == "f")
        return json_response(body)

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [
            ("GET", f"{V1}/rooms/{{roomId}}/timestamp_to_event", self.timestamp_to_event),
        ]

"""``POST /rooms/{roomId}/read_markers`` (client-server-api "Fully read markers",
read_markers.yaml).

Every field is optional (since v1.4 also ``m.fully_read``); each given one must be an
event ID string (400 ``M_INVALID_PARAM``). ``m.read`` and ``m.read.private`` are handled
exactly like ``/receipt`` requests; ``m.fully_read`` moves the ``m.fully_read`` room
account data (:mod:`ranvier.ephemeral.read_markers`). Guests are refused.
"""

from __future__ import annotations

from ranvier.api.auth import require_user
from ranvier.api.client.common import V3, RouteDef, room_id_param
from ranvier.ephemeral.presence import PresenceService
from ranvier.ephemeral.read_markers import ReadMarkers
from ranvier.ephemeral.receipts import FULLY_READ, READ, READ_PRIVATE
from ranvier.http.parse import optional_str, parse_json_body
from ranvier.http.types import MatrixError, Request, Response, json_response


class ReadMarkersApi:
    """Serves read markers."""

    def __init__(self, markers: ReadMarkers, presence: PresenceService) -> None:
        self.markers = markers
        self.presence = presence

    async def post_read_markers(self, request: Request) -> Response:
        """``POST /rooms/{roomId}/read_markers``."""
        requester = await require_user(request, allow_guest=False)
        room_id = room_id_param(request)
        body = parse_json_body(request)
        ids = {key: optional_str(body, key) for key in (FULLY_READ, READ, READ_PRIVATE)}
        for key, value in ids.items():
            if value is not None and not value.startswith("$"):
                raise MatrixError(400, "M_INVALID_PARAM", f"{key} must be an event ID")
        await self.markers.set_markers(
            room_id,
            requester.user_id,
            fully_read=ids[FULLY_READ],
            read=ids[READ],
            read_private=ids[READ_PRIVATE],
        )
        if any(ids.values()):
            await self.presence.bump_active(requester.user_id)
        return json_response({})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [("POST", f"{V3}/rooms/{{roomId}}/read_markers", self.post_read_markers)]

"""``GET /rooms/{roomId}/event/{eventId}`` (client-server-api "Getting events for a
room", room_event_by_id.yaml).

The event in the client format, if the requester may see it under the room's history
visibility; an unknown event, an event of another room and an invisible event are all
404 ``M_NOT_FOUND`` (so the answer does not reveal which).
"""

from __future__ import annotations

from ranvier.api.auth import require_user
from ranvier.api.client.common import V3, RouteDef, room_id_param
from ranvier.http.types import Request, Response, json_response
from ranvier.rooms.service import RoomService


class EventApi:
    """Serves single event reads."""

    def __init__(self, rooms: RoomService) -> None:
        self.rooms = rooms

    async def get_event(self, request: Request) -> Response:
        """``GET /rooms/{roomId}/event/{eventId}``."""
        requester = await require_user(request)
        room_id = room_id_param(request)
        event = await self.rooms.get_event(
            room_id, request.path_params["eventId"], requester.user_id, requester.device_id
        )
        return json_response(event)

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [("GET", f"{V3}/rooms/{{roomId}}/event/{{eventId}}", self.get_event)]

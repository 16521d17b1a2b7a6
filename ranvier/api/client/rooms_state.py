"""Room state over the client API (client-server-api "Getting events for a room" and
"Sending events to a room": room_state.yaml).

* ``PUT /rooms/{roomId}/state/{eventType}[/{stateKey}]`` sends a state event (an
  omitted state key is the empty string). A state key starting with ``@`` that is not
  the sender's is refused by the auth rules: 403 ``M_FORBIDDEN``.
* ``GET /rooms/{roomId}/state/{eventType}[/{stateKey}]`` returns the content, or with
  ``?format=event`` (v1.16) the whole client-format event (404 ``M_NOT_FOUND`` if there
  is none; another ``format`` is 400 ``M_INVALID_PARAM``);
* ``GET /rooms/{roomId}/state`` returns every state event.

Reads need membership (current state), a past membership (the state when the user
left), or a ``world_readable`` room; otherwise 403 ``M_FORBIDDEN``.
"""

from __future__ import annotations

from ranvier.api.auth import require_user
from ranvier.api.client.common import V3, RouteDef, room_id_param
from ranvier.http.parse import parse_json_body
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.rooms.service import RoomService


class StateApi:
    """Serves state reads and writes."""

    def __init__(self, rooms: RoomService) -> None:
        self.rooms = rooms

    async def put_state(self, request: Request) -> Response:
        """``PUT /rooms/{roomId}/state/{eventType}[/{stateKey}]``."""
        requester = await require_user(request)
        room_id = room_id_param(request)
        content = parse_json_body(request)
        event_id = await self.rooms.set_state(
            room_id,
            requester.user_id,
            request.path_params["eventType"],
            request.path_params.get("stateKey", ""),
            content,
        )
        return json_response({"event_id": event_id})

    async def get_state_event(self, request: Request) -> Response:
        """``GET /rooms/{roomId}/state/{eventType}[/{stateKey}]``."""
        requester = await require_user(request)
        room_id = room_id_param(request)
        fmt = request.query_one("format") or "content"
        if fmt not in ("content", "event"):
            raise MatrixError(400, "M_INVALID_PARAM", "format must be 'content' or 'event'")
        read = self.rooms.get_state_event if fmt == "event" else self.rooms.get_state_content
        body = await read(
            room_id,
            requester.user_id,
            request.path_params["eventType"],
            request.path_params.get("stateKey", ""),
        )
        return json_response(body)

    async def get_state(self, request: Request) -> Response:
        """``GET /rooms/{roomId}/state``."""
        requester = await require_user(request)
        room_id = room_id_param(request)
        return json_response(await self.rooms.get_state(room_id, requester.user_id))

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        base = f"{V3}/rooms/{{roomId}}/state"
        return [
            ("GET", base, self.get_state),
            ("PUT", f"{base}/{{eventType}}", self.put_state),
            ("PUT", f"{base}/{{eventType}}/{{stateKey}}", self.put_state),
            ("GET", f"{base}/{{eventType}}", self.get_state_event),
            ("GET", f"{base}/{{eventType}}/{{stateKey}}", self.get_state_event),
        ]

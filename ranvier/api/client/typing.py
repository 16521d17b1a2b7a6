"""``PUT /rooms/{roomId}/typing/{userId}`` (client-server-api "Typing Notifications",
typing.yaml).

A user may only say that *they* are typing (403 ``M_FORBIDDEN`` for another user id)
and only in a room they are joined to (403 ``M_FORBIDDEN`` otherwise, also for an
unknown room). ``typing`` is required; ``timeout`` (milliseconds) defaults to 30 s
and is capped (:mod:`ranvier.ephemeral.typing`). Guests are refused: the guest access
module does not list this endpoint.
"""

from __future__ import annotations

from ranvier.api.auth import require_user
from ranvier.api.client.common import V3, RouteDef, ensure_self, room_id_param
from ranvier.ephemeral.typing import TypingState
from ranvier.http.parse import optional_int, parse_json_body, require_bool
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.rooms.service import RoomService


class TypingApi:
    """Serves typing notifications."""

    def __init__(self, typing: TypingState, rooms: RoomService) -> None:
        self.typing = typing
        self.rooms = rooms

    async def put_typing(self, request: Request) -> Response:
        """``PUT /rooms/{roomId}/typing/{userId}``."""
        requester = await require_user(request, allow_guest=False)
        room_id = room_id_param(request)
        ensure_self(requester, request.path_params["userId"], "another user's typing state")
        body = parse_json_body(request)
        typing = require_bool(body, "typing")
        timeout = optional_int(body, "timeout")
        room = await self.rooms.events.get_room(room_id)
        if room is None or await self.rooms.events.membership_of(room.nid, requester.user_id) != (
            "join"
        ):
            raise MatrixError(403, "M_FORBIDDEN", "You are not joined to this room")
        self.typing.set_typing(room_id, requester.user_id, typing, timeout)
        return json_response({})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [("PUT", f"{V3}/rooms/{{roomId}}/typing/{{userId}}", self.put_typing)]

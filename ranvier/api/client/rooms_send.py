"""``PUT /rooms/{roomId}/send/{eventType}/{txnId}`` (client-server-api "Sending events
to a room", room_send.yaml).

The transaction id makes the request idempotent per device and endpoint
(client-server-api "Transaction identifiers": same device, same path, so the event type
and room count): a retry returns the event id of the first send and sends nothing. A
sender who may not send (not joined, power too low) gets 403 ``M_FORBIDDEN``; an event
over 65,536 bytes gets 413 ``M_TOO_LARGE``. ``POST /rooms/{roomId}/send/{eventType}``
(no transaction id, each request sends) is kept for clients of Synapse's old form.
"""

from __future__ import annotations

from ranvier.api.auth import require_user
from ranvier.api.client.common import V3, RouteDef, room_id_param
from ranvier.http.parse import parse_json_body
from ranvier.http.types import Request, Response, json_response
from ranvier.rooms.service import RoomService


class SendApi:
    """Serves message sends."""

    def __init__(self, rooms: RoomService) -> None:
        self.rooms = rooms

    async def send(self, request: Request) -> Response:
        """``PUT /rooms/{roomId}/send/{eventType}/{txnId}``."""
        requester = await require_user(request)
        room_id = room_id_param(request)
        content = parse_json_body(request)
        event_id = await self.rooms.send_event(
            room_id,
            requester.user_id,
            request.path_params["eventType"],
            content,
            device_id=requester.device_id,
            txn_id=request.path_params.get("txnId"),
        )
        return json_response({"event_id": event_id})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [
            ("PUT", f"{V3}/rooms/{{roomId}}/send/{{eventType}}/{{txnId}}", self.send),
            # Compatibility, not in the spec: Synapse also takes POST without a transaction
            # id (not idempotent: each request sends), which Sytest's torture tests use.
            ("POST", f"{V3}/rooms/{{roomId}}/send/{{eventType}}", self.send),
        ]

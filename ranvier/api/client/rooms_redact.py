"""``PUT /rooms/{roomId}/redact/{eventId}/{txnId}`` (client-server-api "Redactions",
redaction.yaml).

The body (``reason`` and any other keys) becomes the content of an
``m.room.redaction`` sent through :meth:`ranvier.rooms.service.RoomService.send_event`,
the same path as ``PUT /send/m.room.redaction`` (v1.18), so the redaction checks of
:mod:`ranvier.rooms.redactions` apply to both: 403 ``M_FORBIDDEN`` for a user without
the *redact* level redacting another user's event. The transaction id makes a retry
return the first redaction's id; it is scoped to the device and this endpoint (the
redacted event's id is part of the path), so the same transaction id used with
``/send`` or for another event is another request (client-server-api "Transaction
identifiers").
"""

from __future__ import annotations

from ranvier.api.auth import require_user
from ranvier.api.client.common import V3, RouteDef, room_id_param
from ranvier.http.parse import parse_json_body
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.rooms.service import RoomService


class RedactApi:
    """Serves redactions."""

    def __init__(self, rooms: RoomService) -> None:
        self.rooms = rooms

    async def redact(self, request: Request) -> Response:
        """``PUT /rooms/{roomId}/redact/{eventId}/{txnId}``."""
        requester = await require_user(request)
        room_id = room_id_param(request)
        event_id = request.path_params["eventId"]
        if not event_id.startswith("$"):
            raise MatrixError(400, "M_INVALID_PARAM", "Invalid event ID")
        body = parse_json_body(request)
        reason = body.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise MatrixError(400, "M_BAD_JSON", "'reason' must be a string")
        redaction_id = await self.rooms.send_event(
            room_id,
            requester.user_id,
            "m.room.redaction",
            {**body, "redacts": event_id},
            device_id=requester.device_id,
            txn_id=request.path_params.get("txnId"),
            txn_scope=f"redact {event_id}",
        )
        return json_response({"event_id": redaction_id})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [
            ("PUT", f"{V3}/rooms/{{roomId}}/redact/{{eventId}}/{{txnId}}", self.redact),
            # Compatibility, not in the spec: Synapse also takes POST without a transaction
            # id (not idempotent), and Sytest's room-version tests redact that way.
            ("POST", f"{V3}/rooms/{{roomId}}/redact/{{eventId}}", self.redact),
        ]

"""``POST /rooms/{roomId}/receipt/{receiptType}/{eventId}`` (client-server-api "Receipts",
receipts.yaml).

``receiptType`` is ``m.read``, ``m.read.private`` or ``m.fully_read`` (the last moves
the fully read marker, as ``/read_markers`` does, and takes no ``thread_id``); any
other is 400 ``M_INVALID_PARAM``, as is a malformed ``thread_id``. An event the user
cannot see in the room is 404 ``M_NOT_FOUND`` (:mod:`ranvier.ephemeral.receipts`).
Sending a receipt is activity for presence. Guests are refused (the guest access
module does not list this endpoint).
"""

from __future__ import annotations

from ranvier.api.auth import require_user
from ranvier.api.client.common import V3, RouteDef, room_id_param
from ranvier.ephemeral.presence import PresenceService
from ranvier.ephemeral.read_markers import ReadMarkers
from ranvier.ephemeral.receipts import FULLY_READ, RECEIPT_TYPES, ReceiptService
from ranvier.http.parse import parse_json_body_or_empty
from ranvier.http.types import MatrixError, Request, Response, json_response


class ReceiptsApi:
    """Serves receipts."""

    def __init__(
        self, receipts: ReceiptService, markers: ReadMarkers, presence: PresenceService
    ) -> None:
        self.receipts = receipts
        self.markers = markers
        self.presence = presence

    async def post_receipt(self, request: Request) -> Response:
        """``POST /rooms/{roomId}/receipt/{receiptType}/{eventId}``."""
        requester = await require_user(request, allow_guest=False)
        room_id = room_id_param(request)
        receipt_type = request.path_params["receiptType"]
        event_id = request.path_params["eventId"]
        if not event_id.startswith("$"):
            raise MatrixError(400, "M_INVALID_PARAM", "Invalid event ID")
        if receipt_type != FULLY_READ and receipt_type not in RECEIPT_TYPES:
            raise MatrixError(400, "M_INVALID_PARAM", f"Unknown receipt type {receipt_type!r}")
        body = parse_json_body_or_empty(request)
        thread_id = body.get("thread_id")
        if receipt_type == FULLY_READ:
            if "thread_id" in body:
                raise MatrixError(
                    400, "M_INVALID_PARAM", "thread_id is not compatible with m.fully_read"
                )
            await self.markers.set_fully_read(room_id, requester.user_id, event_id)
        else:
            if "thread_id" in body and (not isinstance(thread_id, str) or not thread_id):
                raise MatrixError(
                    400, "M_INVALID_PARAM", "thread_id field must be a non-empty string"
                )
            await self.receipts.send_receipt(
                room_id, requester.user_id, receipt_type, event_id, thread_id
            )
        await self.presence.bump_active(requester.user_id)
        return json_response({})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [
            (
                "POST",
                f"{V3}/rooms/{{roomId}}/receipt/{{receiptType}}/{{eventId}}",
                self.post_receipt,
            )
        ]

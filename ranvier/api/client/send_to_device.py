"""``PUT /sendToDevice/{eventType}/{txnId}`` (client-server-api "Send-to-Device
messaging", to_device.yaml).

The body's ``messages`` maps user ids to device ids (or ``*``) to contents; it must be
an object of objects (400 ``M_BAD_JSON``). The request is idempotent per sending device
and transaction id (:class:`ranvier.sync.to_device.ToDeviceStore`). Messages for users
of other servers need federation and are dropped for now.
"""

from __future__ import annotations

from collections.abc import Callable

from ranvier.api.auth import require_user
from ranvier.api.client.common import V3, RouteDef
from ranvier.http.parse import parse_json_body
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.sync.to_device import ToDeviceStore


class SendToDeviceApi:
    """Serves send-to-device."""

    def __init__(self, store: ToDeviceStore, is_local: Callable[[str], bool]) -> None:
        self.store = store
        self.is_local = is_local

    async def send(self, request: Request) -> Response:
        """``PUT /sendToDevice/{eventType}/{txnId}``."""
        requester = await require_user(request)
        body = parse_json_body(request)
        messages = body.get("messages")
        if not isinstance(messages, dict):
            raise MatrixError(400, "M_BAD_JSON", "'messages' must be an object")
        for user_id, by_device in messages.items():
            if not isinstance(by_device, dict) or not all(
                isinstance(c, dict) for c in by_device.values()
            ):
                raise MatrixError(
                    400, "M_BAD_JSON", f"messages[{user_id!r}] must map device IDs to objects"
                )
        await self.store.send(
            requester.user_id,
            requester.device_id,
            request.path_params["txnId"],
            request.path_params["eventType"],
            messages,
            self.is_local,
        )
        return json_response({})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [("PUT", f"{V3}/sendToDevice/{{eventType}}/{{txnId}}", self.send)]

"""``PUT /sendToDevice/{eventType}/{txnId}`` (client-server-api "Send-to-Device
messaging", to_device.yaml).

The body's ``messages`` maps user ids to device ids (or ``*``) to contents; it must be
an object of objects (400 ``M_BAD_JSON``). The request is idempotent per sending device
and transaction id (:class:`ranvier.sync.to_device.ToDeviceStore`). Messages for users
of other servers go out as ``m.direct_to_device`` EDUs
(:class:`ranvier.e2ee.federation_out.ToDeviceSender`), once per transaction id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ranvier.api.auth import require_user
from ranvier.api.client.common import V3, RouteDef
from ranvier.e2ee.federation_out import ToDeviceSender
from ranvier.e2ee.keys import reject_nul
from ranvier.http.parse import parse_json_body
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.sync.to_device import ToDeviceStore


class SendToDeviceApi:
    """Serves send-to-device."""

    def __init__(
        self,
        store: ToDeviceStore,
        is_local: Callable[[str], bool],
        remote: ToDeviceSender | None = None,
    ) -> None:
        self.store = store
        self.is_local = is_local
        self.remote = remote

    async def send(self, request: Request) -> Response:
        """``PUT /sendToDevice/{eventType}/{txnId}``."""
        requester = await require_user(request)
        body = parse_json_body(request)
        reject_nul(body)
        reject_nul(dict(request.path_params), "path")
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
        txn_id, event_type = request.path_params["txnId"], request.path_params["eventType"]
        remote = self.remote

        async def send_remote(others: Mapping[str, Mapping[str, Any]]) -> None:
            if remote is not None:
                await remote.send(
                    requester.user_id, requester.device_id, txn_id, event_type, others
                )

        await self.store.send(
            requester.user_id,
            requester.device_id,
            txn_id,
            event_type,
            messages,
            self.is_local,
            send_remote,
        )
        return json_response({})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [("PUT", f"{V3}/sendToDevice/{{eventType}}/{{txnId}}", self.send)]

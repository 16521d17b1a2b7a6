"""Device management (client-server-api "Device management", device_management.yaml).

Deleting devices uses UIA (``m.login.password``); a deleted device loses all its
access and refresh tokens in the same transaction, and the token cache is evicted.
"""

from __future__ import annotations

from typing import Any

from ranvier.api.auth import Authenticator
from ranvier.api.client.common import V3, RouteDef
from ranvier.api.client.reauth import Reauth
from ranvier.http.parse import (
    optional_str,
    parse_json_body,
    parse_json_body_or_empty,
    require_list_of_str,
)
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.users.service import AccountService
from ranvier.users.uia import UserInteractiveAuth


class DevicesApi:
    """Serves ``/devices`` and ``/delete_devices``."""

    def __init__(
        self, accounts: AccountService, auth: Authenticator, uia: UserInteractiveAuth
    ) -> None:
        self.accounts = accounts
        self.auth = auth
        self.reauth = Reauth(accounts, uia)

    async def list_devices(self, request: Request) -> Response:
        """``GET /devices``."""
        requester = await self.auth.require_user(request)
        devices = await self.accounts.list_devices(requester.user_id)
        return json_response({"devices": [d.to_client() for d in devices]})

    async def get_device(self, request: Request) -> Response:
        """``GET /devices/{deviceId}`` (404 ``M_NOT_FOUND`` if unknown)."""
        requester = await self.auth.require_user(request)
        device = await self.accounts.devices.get(requester.user_id, request.path_params["deviceId"])
        if device is None:
            raise MatrixError(404, "M_NOT_FOUND", "Unknown device")
        return json_response(device.to_client())

    async def put_device(self, request: Request) -> Response:
        """``PUT /devices/{deviceId}``: rename (404 if unknown)."""
        requester = await self.auth.require_user(request)
        body = parse_json_body(request)
        name = optional_str(body, "display_name")
        device_id = request.path_params["deviceId"]
        if name is None:
            if await self.accounts.devices.get(requester.user_id, device_id) is None:
                raise MatrixError(404, "M_NOT_FOUND", "Unknown device")
            return json_response({})
        if not await self.accounts.rename_device(requester.user_id, device_id, name):
            raise MatrixError(404, "M_NOT_FOUND", "Unknown device")
        return json_response({})

    async def delete_device(self, request: Request) -> Response:
        """``DELETE /devices/{deviceId}`` (UIA); deleting a missing device succeeds."""
        requester = await self.auth.require_user(request, allow_guest=False)
        body = parse_json_body_or_empty(request)
        await self.reauth.authenticate(request, requester.user_id, body.get("auth"))
        await self.accounts.delete_devices(requester.user_id, [request.path_params["deviceId"]])
        return json_response({})

    async def delete_devices(self, request: Request) -> Response:
        """``POST /delete_devices`` (UIA); the device list is remembered in the session."""
        requester = await self.auth.require_user(request, allow_guest=False)
        body = parse_json_body(request)
        params: dict[str, Any] = {}
        if "devices" in body:
            params["devices"] = require_list_of_str(body, "devices")
        auth = body.get("auth")
        session = await self.reauth.begin(request, requester.user_id, auth, params)
        devices = session.params.get("devices")
        if not isinstance(devices, list):
            raise MatrixError(400, "M_MISSING_PARAM", "Missing 'devices'")
        await self.reauth.complete(session, requester.user_id, auth)
        await self.accounts.delete_devices(requester.user_id, [str(d) for d in devices])
        return json_response({})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [
            ("GET", f"{V3}/devices", self.list_devices),
            ("GET", f"{V3}/devices/{{deviceId}}", self.get_device),
            ("PUT", f"{V3}/devices/{{deviceId}}", self.put_device),
            ("DELETE", f"{V3}/devices/{{deviceId}}", self.delete_device),
            ("POST", f"{V3}/delete_devices", self.delete_devices),
        ]

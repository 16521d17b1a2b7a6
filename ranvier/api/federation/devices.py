"""``GET /_matrix/federation/v1/user/devices/{userId}`` (server-server-api "Device
Management", user_devices.yaml).

The user must be local (400 ``M_INVALID_PARAM`` otherwise). The spec requires every
listed device to carry its identity ``keys``, so only devices with uploaded keys are
listed; the keys, the ``stream_id`` (the user's latest position of the device list
stream, which the ``m.device_list_update`` EDUs continue from) and the user's
``master_key`` / ``self_signing_key`` come from a :class:`DeviceKeysSource` (the
end-to-end encryption component, :class:`ranvier.e2ee.keys.E2eKeys`). Device display
names are not shared over federation (the privacy default of other servers too).
"""

from __future__ import annotations

from typing import Any, Protocol

from ranvier.api.client.common import RouteDef, check_user_id
from ranvier.api.federation import FEDERATION_V1
from ranvier.federation.inbound_auth import ServerAuthenticator
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.users.service import AccountService


class DeviceKeysSource(Protocol):
    """Where identity keys of local devices come from (the E2EE store)."""

    async def device_keys(self, user_id: str) -> tuple[int, dict[str, dict[str, Any]]]:
        """``(stream_id, {device_id: signed device keys})`` of a local user."""
        ...

    async def cross_signing_keys(self, user_id: str) -> dict[str, dict[str, Any]]:
        """``{"master": key, "self_signing": key}`` as other servers may see them."""
        ...


class FederationDevicesApi:
    """Serves a local user's device list to other servers."""

    def __init__(
        self,
        accounts: AccountService,
        auth: ServerAuthenticator,
        keys: DeviceKeysSource | None = None,
    ) -> None:
        self.accounts = accounts
        self.auth = auth
        self.keys = keys

    async def user_devices(self, request: Request) -> Response:
        """``GET /user/devices/{userId}``."""
        await self.auth.require_server(request)
        user_id = request.path_params["userId"]
        check_user_id(user_id)
        if not self.accounts.is_local(user_id):
            raise MatrixError(400, "M_INVALID_PARAM", "User is not hosted on this homeserver")
        stream_id = 0
        devices: list[dict[str, Any]] = []
        body: dict[str, Any] = {"user_id": user_id}
        if self.keys is not None:
            cross = await self.keys.cross_signing_keys(user_id)
            for key_type in ("master", "self_signing"):
                if key_type in cross:
                    body[f"{key_type}_key"] = cross[key_type]
            stream_id, keys = await self.keys.device_keys(user_id)
            for device in await self.accounts.list_devices(user_id):
                device_keys = keys.get(device.device_id)
                if device_keys:
                    devices.append({"device_id": device.device_id, "keys": device_keys})
        body.update(stream_id=stream_id, devices=devices)
        return json_response(body)

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [("GET", f"{FEDERATION_V1}/user/devices/{{userId}}", self.user_devices)]

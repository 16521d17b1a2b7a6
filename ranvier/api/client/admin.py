"""``GET /admin/whois/{userId}`` (client-server-api "Server Administration", admin.yaml).

Allowed for server admins and for the user themself. Each device is one session with
its last-seen connection (this server keeps the latest connection per device).
"""

from __future__ import annotations

from typing import Any

from ranvier.api.auth import Authenticator
from ranvier.api.client.common import V3, RouteDef, check_user_id
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.users.service import AccountService


class AdminApi:
    """Serves the client-server admin endpoints."""

    def __init__(self, accounts: AccountService, auth: Authenticator) -> None:
        self.accounts = accounts
        self.auth = auth

    async def whois(self, request: Request) -> Response:
        """``GET /admin/whois/{userId}``."""
        requester = await self.auth.require_user(request, allow_guest=False)
        user_id = request.path_params["userId"]
        check_user_id(user_id)
        if requester.user_id != user_id:
            me = await self.accounts.accounts.get(requester.user_id)
            if me is None or not me.is_admin:
                raise MatrixError(403, "M_FORBIDDEN", "You are not a server admin")
        if await self.accounts.accounts.get(user_id) is None:
            raise MatrixError(404, "M_NOT_FOUND", "Unknown user")
        devices: dict[str, Any] = {}
        for device in await self.accounts.list_devices(user_id):
            connections = []
            if device.last_seen_ts is not None:
                connection: dict[str, Any] = {"last_seen": device.last_seen_ts}
                if device.last_seen_ip is not None:
                    connection["ip"] = device.last_seen_ip
                if device.last_seen_user_agent is not None:
                    connection["user_agent"] = device.last_seen_user_agent
                connections.append(connection)
            devices[device.device_id] = {"sessions": [{"connections": connections}]}
        return json_response({"user_id": user_id, "devices": devices})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [("GET", f"{V3}/admin/whois/{{userId}}", self.whois)]

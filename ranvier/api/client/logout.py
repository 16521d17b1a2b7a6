"""``/logout`` and ``/logout/all`` (client-server-api "Login", logout.yaml)."""

from __future__ import annotations

from ranvier.api.auth import Authenticator
from ranvier.api.client.common import V3, RouteDef
from ranvier.http.types import Request, Response, json_response
from ranvier.users.service import AccountService


class LogoutApi:
    """Serves the logout endpoints."""

    def __init__(self, accounts: AccountService, auth: Authenticator) -> None:
        self.accounts = accounts
        self.auth = auth

    async def logout(self, request: Request) -> Response:
        """``POST /logout``: invalidate this token and delete its device."""
        requester = await self.auth.require_user(request)
        await self.accounts.logout(requester.token_hash)
        return json_response({})

    async def logout_all(self, request: Request) -> Response:
        """``POST /logout/all``: invalidate every token and device of the user."""
        requester = await self.auth.require_user(request)
        await self.accounts.logout_all(requester.user_id)
        return json_response({})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [
            ("POST", f"{V3}/logout", self.logout),
            ("POST", f"{V3}/logout/all", self.logout_all),
        ]

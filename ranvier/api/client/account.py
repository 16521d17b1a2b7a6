"""Account management: whoami, password, deactivation and third-party identifiers
(client-server-api "Current account information", "Password management", "Account
deactivation", "Adding Account Administrative Contact Information"; whoami.yaml,
password_management.yaml, account_deactivation.yaml, administrative_contact.yaml).

This server sends no email or SMS and trusts no identity server, so no 3PID can be
validated, added or bound: the listing is empty (the spec lets servers decline every
3PID and advertises that with ``m.3pid_changes: false``), the ``requestToken``
endpoints answer ``M_THREEPID_MEDIUM_NOT_SUPPORTED`` (adding) / ``M_THREEPID_NOT_FOUND``
(password reset), ``/3pid/add`` finds no validated session (``M_THREEPID_AUTH_FAILED``),
``/3pid/bind`` names an untrusted identity server (``M_SERVER_NOT_TRUSTED``) and
``delete``/``unbind`` report ``M_THREEPID_NOT_FOUND``, since nothing is bound.
"""

from __future__ import annotations

from typing import Any

from ranvier.api.auth import Authenticator
from ranvier.api.client.common import V3, RouteDef
from ranvier.http.parse import (
    optional_bool,
    optional_str,
    parse_json_body,
    parse_json_body_or_empty,
    require_str,
)
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.users.registration import MAX_PASSWORD_CHARS
from ranvier.users.service import AccountService
from ranvier.users.uia import UiaSession, UserInteractiveAuth


class AccountApi:
    """Serves the account management endpoints."""

    def __init__(
        self, accounts: AccountService, auth: Authenticator, uia: UserInteractiveAuth
    ) -> None:
        self.accounts = accounts
        self.auth = auth
        self.uia = uia

    async def whoami(self, request: Request) -> Response:
        """``GET /account/whoami``."""
        requester = await self.auth.require_user(request)
        return json_response(
            {
                "user_id": requester.user_id,
                "device_id": requester.device_id,
                "is_guest": requester.is_guest,
            }
        )

    async def _password_uia(
        self, request: Request, user_id: str, auth: object, params: dict[str, Any]
    ) -> UiaSession:
        """Begin the ``m.login.password`` UIA session of this request (see
        :mod:`ranvier.users.uia`): ``session.params`` are the parameters to use."""
        return await self.uia.begin(
            auth, method=request.method, path=request.path, request=params, user_id=user_id
        )

    async def _complete(self, session: UiaSession, user_id: str, auth: object) -> None:
        await self.uia.complete(
            session,
            auth,
            flows=self.accounts.reauth_flows(),
            checkers=self.accounts.reauth_checkers(user_id),
        )

    async def password(self, request: Request) -> Response:
        """``POST /account/password`` (UIA ``m.login.password``).

        The new password is hashed before it is remembered in the UIA session, so no
        plain password is stored; ``logout_devices`` defaults to true.
        """
        requester = await self.auth.require_user(request, allow_guest=False)
        body = parse_json_body(request)
        params: dict[str, Any] = {}
        new_password = optional_str(body, "new_password")
        if new_password is not None:
            if not new_password or len(new_password) > MAX_PASSWORD_CHARS:
                raise MatrixError(400, "M_INVALID_PARAM", "Password must be 1 to 512 characters")
            params["new_password_hash"] = await self.accounts.hash_password(new_password)
        logout_devices = optional_bool(body, "logout_devices")
        if logout_devices is not None:
            params["logout_devices"] = logout_devices
        auth = body.get("auth")
        session = await self._password_uia(request, requester.user_id, auth, params)
        new_hash = session.params.get("new_password_hash")
        if not isinstance(new_hash, str):
            raise MatrixError(400, "M_MISSING_PARAM", "Missing 'new_password'")
        await self._complete(session, requester.user_id, auth)
        await self.accounts.change_password(
            requester.user_id,
            new_hash,
            logout_devices=session.params.get("logout_devices") is not False,
            keep_token_hash=requester.token_hash,
        )
        return json_response({})

    async def deactivate(self, request: Request) -> Response:
        """``POST /account/deactivate`` (UIA ``m.login.password``; ``erase`` clears data)."""
        requester = await self.auth.require_user(request, allow_guest=False)
        body = parse_json_body_or_empty(request)
        optional_str(body, "id_server")
        params: dict[str, Any] = {}
        erase = optional_bool(body, "erase")
        if erase is not None:
            params["erase"] = erase
        auth = body.get("auth")
        session = await self._password_uia(request, requester.user_id, auth, params)
        await self._complete(session, requester.user_id, auth)
        await self.accounts.deactivate(requester.user_id, erase=session.params.get("erase") is True)
        return json_response({"id_server_unbind_result": "no-support"})

    async def threepids(self, request: Request) -> Response:
        """``GET /account/3pid``: no third-party identifiers are ever associated."""
        await self.auth.require_user(request)
        return json_response({"threepids": []})

    async def threepid_add(self, request: Request) -> Response:
        """``POST /account/3pid/add``: no validation session can exist on this server."""
        await self.auth.require_user(request, allow_guest=False)
        body = parse_json_body(request)
        require_str(body, "client_secret")
        require_str(body, "sid")
        raise MatrixError(400, "M_THREEPID_AUTH_FAILED", "No validated session with this sid")

    async def threepid_bind(self, request: Request) -> Response:
        """``POST /account/3pid/bind``: no identity server is trusted."""
        await self.auth.require_user(request, allow_guest=False)
        body = parse_json_body(request)
        for key in ("client_secret", "id_server", "id_access_token", "sid"):
            require_str(body, key)
        raise MatrixError(400, "M_SERVER_NOT_TRUSTED", "This server trusts no identity server")

    async def threepid_delete(self, request: Request) -> Response:
        """``POST /account/3pid/delete`` and ``/unbind``: nothing is bound."""
        await self.auth.require_user(request, allow_guest=False)
        body = parse_json_body(request)
        medium = require_str(body, "medium")
        require_str(body, "address")
        optional_str(body, "id_server")
        if medium not in ("email", "msisdn"):
            raise MatrixError(400, "M_INVALID_PARAM", "medium must be 'email' or 'msisdn'")
        raise MatrixError(400, "M_THREEPID_NOT_FOUND", "This identifier is not on the account")

    async def add_request_token(self, request: Request) -> Response:
        """``POST /account/3pid/{email,msisdn}/requestToken``: adding 3PIDs is unsupported."""
        await self.auth.require_user(request, allow_guest=False)
        parse_json_body(request)
        raise MatrixError(
            400, "M_THREEPID_MEDIUM_NOT_SUPPORTED", "This server cannot validate 3PIDs"
        )

    async def password_request_token(self, request: Request) -> Response:
        """``POST /account/password/{email,msisdn}/requestToken``: no account has a 3PID."""
        parse_json_body(request)
        raise MatrixError(400, "M_THREEPID_NOT_FOUND", "No account has this identifier")

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [
            ("GET", f"{V3}/account/whoami", self.whoami),
            ("POST", f"{V3}/account/password", self.password),
            ("POST", f"{V3}/account/deactivate", self.deactivate),
            ("GET", f"{V3}/account/3pid", self.threepids),
            ("POST", f"{V3}/account/3pid/add", self.threepid_add),
            ("POST", f"{V3}/account/3pid/bind", self.threepid_bind),
            ("POST", f"{V3}/account/3pid/delete", self.threepid_delete),
            ("POST", f"{V3}/account/3pid/unbind", self.threepid_delete),
            ("POST", f"{V3}/account/3pid/email/requestToken", self.add_request_token),
            ("POST", f"{V3}/account/3pid/msisdn/requestToken", self.add_request_token),
            ("POST", f"{V3}/account/password/email/requestToken", self.password_request_token),
            ("POST", f"{V3}/account/password/msisdn/requestToken", self.password_request_token),
        ]

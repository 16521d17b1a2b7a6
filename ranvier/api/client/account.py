"""Account management: whoami, password and deactivation (client-server-api "Current
account information", "Password management", "Account deactivation"; whoami.yaml,
password_management.yaml, account_deactivation.yaml). Third-party identifiers are in
:mod:`ranvier.api.client.threepids`.

A password change is authorised by the access token plus re-authentication (UIA), or,
without an access token, by proving control of an email address bound to the account
(``m.login.email.identity``, after ``/account/password/email/requestToken``): the
password reset of password_management.yaml.

Deactivation first unbinds the user's third-party identifiers from identity servers
(:meth:`ranvier.users.identity_bindings.IdentityBindings.unbind_all`; ``id_server``,
remembered across the UIA round trips like ``erase``), which gives
``id_server_unbind_result``.
"""

from __future__ import annotations

from typing import Any

from ranvier.api.auth import Authenticator
from ranvier.api.client.common import V3, RouteDef
from ranvier.api.client.reauth import Reauth
from ranvier.http.parse import (
    optional_bool,
    optional_str,
    parse_json_body,
    parse_json_body_or_empty,
)
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.users.identity_bindings import SUCCESS, IdentityBindings, check_id_server
from ranvier.users.registration import MAX_PASSWORD_CHARS
from ranvier.users.service import AccountService
from ranvier.users.uia import StageFailed, UiaSession, UserInteractiveAuth


class AccountApi:
    """Serves the account management endpoints."""

    def __init__(
        self,
        accounts: AccountService,
        auth: Authenticator,
        uia: UserInteractiveAuth,
        bindings: IdentityBindings | None = None,
    ) -> None:
        self.accounts = accounts
        self.auth = auth
        self.uia = uia
        self.reauth = Reauth(accounts, uia)
        self.bindings = bindings

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

    async def password(self, request: Request) -> Response:
        """``POST /account/password`` (UIA ``m.login.password``, or the email reset).

        The new password is hashed before it is remembered in the UIA session, so no
        plain password is stored; ``logout_devices`` defaults to true.
        """
        threepids = self.accounts.threepids
        can_reset = threepids is not None and threepids.email_enabled
        if can_reset and await self.auth.optional_user(request) is None:
            return await self._password_reset(request)
        requester = await self.auth.require_user(request, allow_guest=False)
        body = parse_json_body(request)
        params = await self._password_params(body)
        auth = body.get("auth")
        session = await self.reauth.begin(request, requester.user_id, auth, params)
        new_hash = session.params.get("new_password_hash")
        if not isinstance(new_hash, str):
            raise MatrixError(400, "M_MISSING_PARAM", "Missing 'new_password'")
        await self.reauth.complete(session, requester.user_id, auth)
        await self.accounts.change_password(
            requester.user_id,
            new_hash,
            logout_devices=session.params.get("logout_devices") is not False,
            keep_token_hash=requester.token_hash,
        )
        return json_response({})

    async def _password_params(self, body: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {}
        new_password = optional_str(body, "new_password")
        if new_password is not None:
            if not new_password or len(new_password) > MAX_PASSWORD_CHARS:
                raise MatrixError(400, "M_INVALID_PARAM", "Password must be 1 to 512 characters")
            params["new_password_hash"] = await self.accounts.hash_password(new_password)
        logout_devices = optional_bool(body, "logout_devices")
        if logout_devices is not None:
            params["logout_devices"] = logout_devices
        return params

    async def _password_reset(self, request: Request) -> Response:
        """``POST /account/password`` without an access token: UIA with
        ``m.login.email.identity``; the validated address names the account."""
        threepids = self.accounts.threepids
        assert threepids is not None
        body = parse_json_body(request)
        auth = body.get("auth")
        session = await self.uia.begin(
            auth,
            method=request.method,
            path=request.path,
            request=await self._password_params(body),
        )
        new_hash = session.params.get("new_password_hash")
        if not isinstance(new_hash, str):
            raise MatrixError(400, "M_MISSING_PARAM", "Missing 'new_password'")

        async def email_identity(auth_dict: dict[str, Any], s: UiaSession) -> None:
            found = await threepids.validated(auth_dict.get("threepid_creds"))
            if found is None:
                raise StageFailed("M_UNAUTHORIZED", "The email address has not been validated")
            owner = await threepids.store.owner(found[0], found[1])
            if owner is None:
                raise StageFailed("M_THREEPID_NOT_FOUND", "No account has this address")
            s.data["reset_user_id"] = owner

        await self.uia.complete(
            session,
            auth,
            flows=[["m.login.email.identity"]],
            checkers={"m.login.email.identity": email_identity},
        )
        user_id = session.data.get("reset_user_id")
        if not isinstance(user_id, str):
            raise MatrixError(400, "M_UNKNOWN", "The session names no account")
        await self.accounts.change_password(
            user_id,
            new_hash,
            logout_devices=session.params.get("logout_devices") is not False,
            keep_token_hash=None,
        )
        return json_response({})

    async def deactivate(self, request: Request) -> Response:
        """``POST /account/deactivate`` (UIA ``m.login.password``; ``erase`` clears data;
        identifiers unbound from identity servers first, see the module docstring)."""
        requester = await self.auth.require_user(request, allow_guest=False)
        body = parse_json_body_or_empty(request)
        params: dict[str, Any] = {}
        id_server = optional_str(body, "id_server")
        if id_server is not None:
            check_id_server(id_server)
            params["id_server"] = id_server
        erase = optional_bool(body, "erase")
        if erase is not None:
            params["erase"] = erase
        auth = body.get("auth")
        session = await self.reauth.authenticate(request, requester.user_id, auth, params)
        id_server = session.params.get("id_server")
        result = SUCCESS
        if self.bindings is not None:
            result = await self.bindings.unbind_all(
                requester.user_id, id_server if isinstance(id_server, str) else None
            )
        await self.accounts.deactivate(requester.user_id, erase=session.params.get("erase") is True)
        return json_response({"id_server_unbind_result": result})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [
            ("GET", f"{V3}/account/whoami", self.whoami),
            ("POST", f"{V3}/account/password", self.password),
            ("POST", f"{V3}/account/deactivate", self.deactivate),
        ]

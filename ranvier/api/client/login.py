"""``/login``, ``/refresh`` and ``/login/get_token`` (client-server-api "Login",
login.yaml, refresh.yaml, login_token.yaml).

Password logins are rate limited per client IP and per named user, so guessing
passwords for one account from many addresses is slowed down as well.
"""

from __future__ import annotations

from typing import Any

from ranvier.api.auth import Authenticator
from ranvier.api.client.common import V1, V3, RouteDef
from ranvier.api.client.reauth import Reauth
from ranvier.http.parse import (
    optional_bool,
    optional_dict,
    optional_str,
    parse_json_body,
    parse_json_body_or_empty,
    require_str,
)
from ranvier.http.ratelimit import RateLimiter
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.users.accounts import Account
from ranvier.users.service import AccountService
from ranvier.users.tokens import UnknownRefreshToken
from ranvier.users.uia import UserInteractiveAuth

LOGIN_TOKEN_LIFETIME_MS = 2 * 60 * 1000


class LoginApi:
    """Serves the login endpoints."""

    def __init__(
        self,
        accounts: AccountService,
        auth: Authenticator,
        uia: UserInteractiveAuth,
        limiter: RateLimiter | None,
        well_known: dict[str, object] | None,
        sso_providers: list[dict[str, str]] | None = None,
    ) -> None:
        self.accounts = accounts
        self.sso_providers = sso_providers
        self.auth = auth
        self.reauth = Reauth(accounts, uia)
        self.limiter = limiter
        self.well_known = well_known

    async def flows(self, request: Request) -> Response:
        """``GET /login``: the supported login types.

        With single sign-on configured, ``m.login.sso`` with its identity providers
        and the deprecated ``m.login.cas`` (r0.4.0; the spec's SSO note says it works
        like ``m.login.sso`` through ``/login/cas/redirect``) are listed too.
        """
        flows: list[dict[str, Any]] = [
            {"type": "m.login.password"},
            {"type": "m.login.token", "get_login_token": True},
        ]
        if self.sso_providers is not None:
            flows.append({"type": "m.login.sso", "identity_providers": self.sso_providers})
            flows.append({"type": "m.login.cas"})
        return json_response({"flows": flows})

    async def login(self, request: Request) -> Response:
        """``POST /login``: ``m.login.password`` or ``m.login.token``."""
        if self.limiter is not None:
            self.limiter.check(request.client_ip)
        body = parse_json_body(request)
        login_type = require_str(body, "type")
        device_id = optional_str(body, "device_id")
        display_name = optional_str(body, "initial_device_display_name")
        refreshable = bool(optional_bool(body, "refresh_token"))
        if login_type == "m.login.password":
            account = await self._password_login(body)
        elif login_type == "m.login.token":
            account = await self._token_login(body)
        else:
            raise MatrixError(400, "M_UNKNOWN", "Unknown login type")
        session = await self.accounts.start_session(
            account.user_id,
            device_id,
            display_name,
            refreshable=refreshable,
            seen_from=(request.client_ip, request.headers.get("user-agent")),
        )
        result: dict[str, Any] = session.to_client(self.accounts.server_name)
        if self.well_known is not None:
            result["well_known"] = self.well_known
        return json_response(result)

    async def _password_login(self, body: dict[str, Any]) -> Account:
        """``m.login.password`` with an ``m.id.user`` or ``m.id.thirdparty`` identifier
        (or the deprecated top-level ``user`` / ``medium`` + ``address``). An unknown
        3PID is 403 like a wrong password (login.yaml). ``m.id.phone`` names an
        ``msisdn``, which this server never binds."""
        identifier = optional_dict(body, "identifier")
        threepid: tuple[str, str] | None = None
        user = ""
        if identifier is not None:
            id_type = require_str(identifier, "type")
            if id_type == "m.id.user":
                user = require_str(identifier, "user")
            elif id_type == "m.id.thirdparty":
                threepid = (require_str(identifier, "medium"), require_str(identifier, "address"))
            elif id_type == "m.id.phone":
                threepid = ("msisdn", require_str(identifier, "phone"))
            else:
                raise MatrixError(400, "M_UNKNOWN", "Unknown identifier type")
        else:
            legacy = optional_str(body, "user")
            if legacy is not None:
                user = legacy
            elif "medium" in body or "address" in body:
                threepid = (require_str(body, "medium"), require_str(body, "address"))
            else:
                raise MatrixError(400, "M_MISSING_PARAM", "Missing parameter: identifier")
        password = require_str(body, "password")
        if threepid is not None:
            account = await self.accounts.account_for_threepid(*threepid)
            if self.limiter is not None and account is not None:
                self.limiter.check(account.user_id.lower())
            return await self.accounts.check_login_password(account, password)
        if self.limiter is not None:
            named = user if user.startswith("@") else self.accounts.user_id_for(user)
            self.limiter.check(named.lower())
        return await self.accounts.check_login_password(user, password)

    async def _token_login(self, body: dict[str, Any]) -> Account:
        token = require_str(body, "token")
        user_id = await self.accounts.tokens.consume_login_token(token)
        account = None if user_id is None else await self.accounts.accounts.get(user_id)
        if account is None:
            raise MatrixError(403, "M_FORBIDDEN", "Invalid login token")
        if account.deactivated:
            raise MatrixError(403, "M_USER_DEACTIVATED", "This account has been deactivated")
        return account

    async def refresh(self, request: Request) -> Response:
        """``POST /refresh``: rotate a refresh token."""
        body = parse_json_body(request)
        token = require_str(body, "refresh_token")
        try:
            issued = await self.accounts.tokens.refresh(
                token, self.accounts.access_token_lifetime_ms
            )
        except UnknownRefreshToken:
            raise MatrixError(
                401, "M_UNKNOWN_TOKEN", "Unknown refresh token", soft_logout=False
            ) from None
        result: dict[str, Any] = {"access_token": issued.access_token}
        if issued.refresh_token is not None:
            result["refresh_token"] = issued.refresh_token
        if issued.expires_in_ms is not None:
            result["expires_in_ms"] = issued.expires_in_ms
        return json_response(result)

    async def get_token(self, request: Request) -> Response:
        """``POST /v1/login/get_token``: a single-use ``m.login.token`` after password UIA."""
        requester = await self.auth.require_user(request, allow_guest=False)
        if self.limiter is not None:
            self.limiter.check(requester.user_id)
        body = parse_json_body_or_empty(request)
        await self.reauth.authenticate(request, requester.user_id, body.get("auth"))
        token = await self.accounts.tokens.create_login_token(
            requester.user_id, LOGIN_TOKEN_LIFETIME_MS
        )
        return json_response({"login_token": token, "expires_in_ms": LOGIN_TOKEN_LIFETIME_MS})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [
            ("GET", f"{V3}/login", self.flows),
            ("POST", f"{V3}/login", self.login),
            ("POST", f"{V3}/refresh", self.refresh),
            ("POST", f"{V1}/login/get_token", self.get_token),
        ]

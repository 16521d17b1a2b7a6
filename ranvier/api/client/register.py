"""``/register`` and friends (client-server-api "Account registration", registration.yaml,
registration_tokens.yaml). Logic lives in :mod:`ranvier.users.registration`."""

from __future__ import annotations

from ranvier.api.client.common import V1, V3, RouteDef
from ranvier.http.parse import parse_json_body, query_str
from ranvier.http.ratelimit import RateLimiter
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.users.registration import RegistrationService


class RegisterApi:
    """Serves registration endpoints; rate limited per client IP when a limiter is given."""

    def __init__(self, service: RegistrationService, limiter: RateLimiter | None) -> None:
        self.service = service
        self.limiter = limiter

    def _limit(self, request: Request) -> None:
        if self.limiter is not None:
            self.limiter.check(request.client_ip)

    async def register(self, request: Request) -> Response:
        """``POST /register`` (``kind`` = ``user`` by default, or ``guest``)."""
        self._limit(request)
        kind = request.query_one("kind", "user")
        body = parse_json_body(request)
        if kind == "guest":
            seen = (request.client_ip, request.headers.get("user-agent"))
            return json_response(await self.service.register_guest(body, seen))
        if kind != "user":
            raise MatrixError(400, "M_INVALID_PARAM", "kind must be 'user' or 'guest'")
        result = await self.service.register(
            body,
            client_ip=request.client_ip,
            method=request.method,
            path=request.path,
            user_agent=request.headers.get("user-agent"),
        )
        return json_response(result)

    async def available(self, request: Request) -> Response:
        """``GET /register/available?username=``: 200 or 400 M_USER_IN_USE/M_INVALID_USERNAME."""
        self._limit(request)
        if not self.service.policy.enabled:
            raise MatrixError(403, "M_FORBIDDEN", "Registration is disabled")
        localpart = self.service.localpart_for(query_str(request, "username"))
        await self.service.ensure_available(localpart)
        return json_response({"available": True})

    async def token_validity(self, request: Request) -> Response:
        """``GET /v1/register/m.login.registration_token/validity?token=``."""
        self._limit(request)
        if not self.service.policy.enabled or not self.service.policy.requires_token:
            raise MatrixError(403, "M_FORBIDDEN", "Registration tokens are not in use")
        token = query_str(request, "token")
        valid = await self.service.registration_tokens.is_valid(token)
        return json_response({"valid": valid})

    async def request_token(self, request: Request) -> Response:
        """``POST /register/email/requestToken``: mail a validation link
        (:mod:`ranvier.users.threepids`); 400 ``M_THREEPID_IN_USE`` for an address
        already bound. Without a mail server, and for ``msisdn`` (no SMS sender, no
        trusted identity server), no address is permitted: 403 ``M_THREEPID_DENIED``
        (registration.yaml)."""
        self._limit(request)
        body = parse_json_body(request)
        threepids = self.service.accounts.threepids
        email = request.path.endswith("/email/requestToken")
        if not email or threepids is None or not threepids.email_enabled:
            raise MatrixError(403, "M_THREEPID_DENIED", "This address cannot be used here")
        if not self.service.policy.enabled:
            raise MatrixError(403, "M_FORBIDDEN", "Registration is disabled")
        return json_response(await threepids.request_email_token(body, purpose="register"))

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [
            ("POST", f"{V3}/register", self.register),
            ("GET", f"{V3}/register/available", self.available),
            ("GET", f"{V1}/register/m.login.registration_token/validity", self.token_validity),
            ("POST", f"{V3}/register/email/requestToken", self.request_token),
            ("POST", f"{V3}/register/msisdn/requestToken", self.request_token),
        ]

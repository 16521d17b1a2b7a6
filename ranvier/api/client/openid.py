"""``POST /_matrix/client/v3/user/{userId}/openid/request_token`` (client-server-api
"OpenID", openid.yaml; definitions/openid_token.yaml).

Only for oneself (403 ``M_FORBIDDEN`` otherwise) and not for guests (403
``M_GUEST_ACCESS_FORBIDDEN``: the endpoint is not among those "Guest Access" opens).
The body is an empty object reserved for later (an empty body is taken as ``{}``,
anything but an object is 400 ``M_BAD_JSON``). The answer is the token, ``token_type``
``Bearer``, this server's name and the lifetime in seconds
(:mod:`ranvier.users.openid`).
"""

from __future__ import annotations

from ranvier.api.auth import Authenticator
from ranvier.api.client.common import V3, RouteDef, ensure_self
from ranvier.http.parse import parse_json_body_or_empty
from ranvier.http.types import Request, Response, json_response
from ranvier.users.openid import OpenIdTokens


class OpenIdApi:
    """Issues OpenID tokens to their own users."""

    def __init__(self, tokens: OpenIdTokens, auth: Authenticator, server_name: str) -> None:
        self.tokens = tokens
        self.auth = auth
        self.server_name = server_name

    async def request_token(self, request: Request) -> Response:
        """``POST /user/{userId}/openid/request_token``."""
        requester = await self.auth.require_user(request, allow_guest=False)
        ensure_self(requester, request.path_params["userId"], "another user")
        parse_json_body_or_empty(request)
        issued = await self.tokens.issue(requester.user_id)
        return json_response(
            {
                "access_token": issued.token,
                "token_type": "Bearer",
                "matrix_server_name": self.server_name,
                "expires_in": issued.lifetime_ms // 1000,
            }
        )

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [("POST", f"{V3}/user/{{userId}}/openid/request_token", self.request_token)]

"""``GET /_matrix/federation/v1/openid/userinfo?access_token=`` (server-server-api
"OpenID", server-server/openid.yaml).

Called by third-party services, not by servers: no ``X-Matrix`` authentication. A
token that is unknown, expired or of a deactivated account is 401 ``M_UNKNOWN_TOKEN``;
a request without one is 401 ``M_MISSING_TOKEN`` (the Client-Server API's code for
it). The answer is ``{"sub": user_id}`` (:mod:`ranvier.users.openid`).
"""

from __future__ import annotations

from ranvier.api.client.common import RouteDef
from ranvier.api.federation import FEDERATION_V1
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.users.openid import OpenIdTokens


class FederationOpenIdApi:
    """Tells third-party services whose OpenID token they were given."""

    def __init__(self, tokens: OpenIdTokens) -> None:
        self.tokens = tokens

    async def userinfo(self, request: Request) -> Response:
        """``GET /openid/userinfo``."""
        token = request.query_one("access_token")
        if not token:
            raise MatrixError(401, "M_MISSING_TOKEN", "Missing access_token")
        user_id = await self.tokens.owner(token)
        if user_id is None:
            raise MatrixError(401, "M_UNKNOWN_TOKEN", "Access token unknown or expired")
        return json_response({"sub": user_id})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [("GET", f"{FEDERATION_V1}/openid/userinfo", self.userinfo)]

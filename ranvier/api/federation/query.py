"""``GET /_matrix/federation/v1/query/profile`` (server-server-api "Querying for
information", query.yaml).

The user must be local (400 ``M_INVALID_PARAM`` otherwise) and exist and be active
(404 ``M_NOT_FOUND`` otherwise). Without ``field`` the whole stored profile is returned
(every field users can set is public, as in the Client-Server ``GET /profile``); with
``field`` only that field, or 404 when it is not set.
"""

from __future__ import annotations

from ranvier.api.client.common import RouteDef, check_user_id
from ranvier.api.federation import FEDERATION_V1
from ranvier.federation.inbound_auth import ServerAuthenticator
from ranvier.http.parse import query_str
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.users.service import AccountService


class FederationQueryApi:
    """Serves profile queries from other servers."""

    def __init__(self, accounts: AccountService, auth: ServerAuthenticator) -> None:
        self.accounts = accounts
        self.auth = auth

    async def profile(self, request: Request) -> Response:
        """``GET /query/profile?user_id=...&field=...``."""
        await self.auth.require_server(request)
        user_id = query_str(request, "user_id")
        check_user_id(user_id)
        if not self.accounts.is_local(user_id):
            raise MatrixError(400, "M_INVALID_PARAM", "User is not hosted on this homeserver")
        account = await self.accounts.accounts.get(user_id)
        if account is None or account.deactivated:
            raise MatrixError(404, "M_NOT_FOUND", "User does not exist")
        profile = await self.accounts.profiles.store.get(user_id)
        field = request.query_one("field")
        if field is None:
            return json_response(profile)
        if field not in profile:
            raise MatrixError(404, "M_NOT_FOUND", "Profile field not found")
        return json_response({field: profile[field]})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [("GET", f"{FEDERATION_V1}/query/profile", self.profile)]

"""``POST /user_directory/search`` (client-server-api "User Directory", users.yaml).

Body ``{search_term, limit?}`` (``limit`` defaults to 10); answer
``{results: [{user_id, display_name?, avatar_url?}], limited}``. Which users can be
found is decided by :class:`ranvier.users.directory.UserDirectory`. A missing or
non-string ``search_term`` is 400 ``M_MISSING_PARAM``/``M_INVALID_PARAM``, a negative
or non-integer ``limit`` 400 ``M_INVALID_PARAM``. Guests get 403
``M_GUEST_ACCESS_FORBIDDEN``: the endpoint is not among those client-server-api "Guest
access" opens to them.
"""

from __future__ import annotations

from ranvier.api.auth import Authenticator
from ranvier.api.client.common import V3, RouteDef
from ranvier.http.parse import optional_int, parse_json_body, require_str
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.users.directory import DEFAULT_LIMIT, UserDirectory


class UserDirectoryApi:
    """Serves user directory searches."""

    def __init__(self, directory: UserDirectory, auth: Authenticator) -> None:
        self.directory = directory
        self.auth = auth

    async def search(self, request: Request) -> Response:
        """``POST /user_directory/search``."""
        requester = await self.auth.require_user(request, allow_guest=False)
        body = parse_json_body(request)
        term = require_str(body, "search_term")
        limit = optional_int(body, "limit", DEFAULT_LIMIT)
        assert limit is not None
        if limit < 0:
            raise MatrixError(400, "M_INVALID_PARAM", "limit must not be negative")
        results, limited = await self.directory.search(requester.user_id, term, limit)
        return json_response(
            {"results": [entry.to_json() for entry in results], "limited": limited}
        )

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [("POST", f"{V3}/user_directory/search", self.search)]

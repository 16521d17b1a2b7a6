"""Filters (client-server-api "Filtering", filter.yaml)."""

from __future__ import annotations

from ranvier.api.auth import Authenticator
from ranvier.api.client.common import V3, RouteDef, ensure_self
from ranvier.http.parse import parse_json_body
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.users.filters import FilterStore, validate_filter


class FiltersApi:
    """Serves filter upload and download."""

    def __init__(self, store: FilterStore, auth: Authenticator) -> None:
        self.store = store
        self.auth = auth

    async def create(self, request: Request) -> Response:
        """``POST /user/{userId}/filter``: validate and store; returns ``filter_id``."""
        requester = await self.auth.require_user(request)
        ensure_self(requester, request.path_params["userId"], "another user's filters")
        body = parse_json_body(request)
        validate_filter(body)
        filter_id = await self.store.create(requester.user_id, body)
        return json_response({"filter_id": filter_id})

    async def get(self, request: Request) -> Response:
        """``GET /user/{userId}/filter/{filterId}`` (404 ``M_NOT_FOUND`` if unknown)."""
        requester = await self.auth.require_user(request)
        ensure_self(requester, request.path_params["userId"], "another user's filters")
        found = await self.store.get(requester.user_id, request.path_params["filterId"])
        if found is None:
            raise MatrixError(404, "M_NOT_FOUND", "No such filter")
        return json_response(found)

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [
            ("POST", f"{V3}/user/{{userId}}/filter", self.create),
            ("GET", f"{V3}/user/{{userId}}/filter/{{filterId}}", self.get),
        ]

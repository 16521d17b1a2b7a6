"""Profiles (client-server-api "Profiles", profile.yaml, with v1.16 extended fields).

``GET /profile/{userId}`` and ``GET/PUT/DELETE /profile/{userId}/{keyName}``; the old
``/displayname`` and ``/avatar_url`` endpoints are the ``keyName`` routes for those two
keys. Validation and the 64 KiB limit live in :mod:`ranvier.users.profiles`. Profiles
of users on other servers are asked of their server (``/query/profile``,
:class:`~ranvier.federation.profile_query.RemoteProfiles`) when federation is on, else
404 ``M_NOT_FOUND`` as for unknown local users.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ranvier.api.auth import Authenticator
from ranvier.api.client.common import V3, RouteDef, check_user_id, ensure_self
from ranvier.http.parse import parse_json_body
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.users.profiles import validate_key
from ranvier.users.service import AccountService

RemoteProfileLookup = Callable[[str, str | None], Awaitable[dict[str, Any]]]
"""``await lookup(user_id, field)``: a remote user's profile (or only ``field`` of it)
from their server; raises :class:`MatrixError`."""


class ProfileApi:
    """Serves profile reads and writes."""

    def __init__(
        self,
        accounts: AccountService,
        auth: Authenticator,
        remote: RemoteProfileLookup | None = None,
    ) -> None:
        self.accounts = accounts
        self.auth = auth
        self.profiles = accounts.profiles
        self.remote = remote

    async def _existing_profile(self, user_id: str, field: str | None = None) -> dict[str, Any]:
        check_user_id(user_id)
        if self.remote is not None and not self.accounts.is_local(user_id):
            return await self.remote(user_id, field)
        account = (
            await self.accounts.accounts.get(user_id) if self.accounts.is_local(user_id) else None
        )
        if account is None or account.deactivated:
            raise MatrixError(404, "M_NOT_FOUND", "Profile not found")
        return await self.profiles.store.get(user_id)

    async def get_profile(self, request: Request) -> Response:
        """``GET /profile/{userId}``."""
        return json_response(await self._existing_profile(request.path_params["userId"]))

    async def get_field(self, request: Request) -> Response:
        """``GET /profile/{userId}/{keyName}``."""
        key = request.path_params["keyName"]
        validate_key(key)
        profile = await self._existing_profile(request.path_params["userId"], key)
        if key not in profile:
            raise MatrixError(404, "M_NOT_FOUND", "Profile field not found")
        return json_response({key: profile[key]})

    async def _own(self, request: Request) -> str:
        requester = await self.auth.require_user(request)
        user_id = request.path_params["userId"]
        check_user_id(user_id)
        ensure_self(requester, user_id, "another user's profile")
        return user_id

    async def put_field(self, request: Request) -> Response:
        """``PUT /profile/{userId}/{keyName}`` with body ``{keyName: value}``."""
        user_id = await self._own(request)
        key = request.path_params["keyName"]
        validate_key(key)
        body = parse_json_body(request)
        if key not in body:
            raise MatrixError(400, "M_MISSING_PARAM", f"Missing parameter: {key}")
        await self.profiles.set_field(user_id, key, body[key])
        return json_response({})

    async def delete_field(self, request: Request) -> Response:
        """``DELETE /profile/{userId}/{keyName}`` (succeeds if absent)."""
        user_id = await self._own(request)
        await self.profiles.delete_field(user_id, request.path_params["keyName"])
        return json_response({})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [
            ("GET", f"{V3}/profile/{{userId}}", self.get_profile),
            ("GET", f"{V3}/profile/{{userId}}/{{keyName}}", self.get_field),
            ("PUT", f"{V3}/profile/{{userId}}/{{keyName}}", self.put_field),
            ("DELETE", f"{V3}/profile/{{userId}}/{{keyName}}", self.delete_field),
        ]

"""``GET``/``PUT /presence/{userId}/status`` (client-server-api "Presence", presence.yaml).

Only the user may set their presence (403 ``M_FORBIDDEN``); ``presence`` is required
and must be ``online``, ``unavailable`` or ``offline``, ``status_msg`` a string (400
``M_INVALID_PARAM`` / ``M_MISSING_PARAM``). Anyone sharing a joined room with the user
may read it, others get 403 ``M_FORBIDDEN`` (:mod:`ranvier.ephemeral.presence`).
Guests are refused (the guest access module does not list these endpoints).
"""

from __future__ import annotations

from ranvier.api.auth import require_user
from ranvier.api.client.common import V3, RouteDef, check_user_id, ensure_self
from ranvier.ephemeral.presence import PresenceService
from ranvier.http.parse import parse_json_body, require_str
from ranvier.http.types import Request, Response, json_response


class PresenceApi:
    """Serves presence status."""

    def __init__(self, presence: PresenceService) -> None:
        self.presence = presence

    async def get_status(self, request: Request) -> Response:
        """``GET /presence/{userId}/status``."""
        requester = await require_user(request, allow_guest=False)
        user_id = request.path_params["userId"]
        check_user_id(user_id)
        return json_response(await self.presence.get_status(requester.user_id, user_id))

    async def put_status(self, request: Request) -> Response:
        """``PUT /presence/{userId}/status``."""
        requester = await require_user(request, allow_guest=False)
        ensure_self(requester, request.path_params["userId"], "another user's presence")
        body = parse_json_body(request)
        presence = require_str(body, "presence")
        await self.presence.set_status(requester.user_id, presence, body.get("status_msg"))
        return json_response({})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        path = f"{V3}/presence/{{userId}}/status"
        return [("GET", path, self.get_status), ("PUT", path, self.put_status)]

"""Pushers (client-server-api "Push Notifications", "Client behaviour"; pusher.yaml):
``GET /pushers`` and ``POST /pushers/set``.

Validation is :func:`ranvier.push.pushers.parse_pusher` (400 ``M_MISSING_PARAM`` /
``M_INVALID_PARAM``); the pusher remembers the requester's device so logging that
device out deletes it. Guests are refused.
"""

from __future__ import annotations

from ranvier.api.auth import require_user
from ranvier.api.client.common import V3, RouteDef
from ranvier.http.parse import parse_json_body
from ranvier.http.types import Request, Response, json_response
from ranvier.push.pushers import PusherStore, parse_pusher


class PushersApi:
    """Serves the pushers endpoints."""

    def __init__(self, pushers: PusherStore) -> None:
        self.pushers = pushers

    async def get(self, request: Request) -> Response:
        """``GET /pushers``."""
        requester = await require_user(request, allow_guest=False)
        pushers = await self.pushers.for_user(requester.user_id)
        return json_response({"pushers": [p.to_client() for p in pushers]})

    async def set(self, request: Request) -> Response:
        """``POST /pushers/set``."""
        requester = await require_user(request, allow_guest=False)
        body = parse_json_body(request)
        parsed = parse_pusher(requester.user_id, requester.device_id, body)
        await self.pushers.apply(parsed, requester.user_id)
        return json_response({})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [
            ("GET", f"{V3}/pushers", self.get),
            ("POST", f"{V3}/pushers/set", self.set),
        ]

"""``GET``/``PUT /presence/{userId}/status`` (client-server-api "Presence", presence.yaml).

Only the user may set their presence (403 ``M_FORBIDDEN``); ``presence`` is required
and must be ``online``, ``unavailable`` or ``offline``, ``status_msg`` a string (400
``M_INVALID_PARAM`` / ``M_MISSING_PARAM``). Anyone sharing a joined room with the user
may read it, others get 403 ``M_FORBIDDEN`` (:mod:`ranvier.ephemeral.presence`).
Guests are refused (the guest access module does not list these endpoints).

:func:`count_activity` wraps the routes through which a user acts in rooms (sending,
state, receipts, typing, room creation; not membership changes) so that a successful
request is presence activity at once, before its response ("Last active ago": a
pro-active event "may be sending a message to a room"); the room events bus does the
same for every local non-membership event, later and idempotently.
"""

from __future__ import annotations

from collections.abc import Iterable

from ranvier.api.auth import Requester, require_user
from ranvier.api.client.common import V3, RouteDef, check_user_id, ensure_self
from ranvier.ephemeral.presence import PresenceService
from ranvier.http.parse import parse_json_body, require_str
from ranvier.http.router import Handler
from ranvier.http.types import Request, Response, json_response

ACTIVE_PREFIXES = (f"{V3}/rooms/", f"{V3}/createRoom")
"""Paths under which a successful ``PUT``/``POST`` counts as presence activity..."""
MEMBERSHIP_SUFFIXES = ("/join", "/leave", "/invite", "/kick", "/ban", "/unban", "/forget")
"""...except membership changes (like ``/join/{roomIdOrAlias}`` and ``/knock``, which
are not under :data:`ACTIVE_PREFIXES`): joining or leaving is not "sending a message"."""


def _counting(presence: PresenceService, handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        response = await handler(request)
        requester = request.context.get("requester")
        if response.status == 200 and isinstance(requester, Requester):
            await presence.bump_active(requester.user_id)
        return response

    return wrapped


def count_activity(presence: PresenceService, routes: Iterable[RouteDef]) -> list[RouteDef]:
    """``routes`` with the handlers of room actions wrapped to count as activity."""
    return [
        (
            method,
            pattern,
            _counting(presence, handler)
            if method in ("PUT", "POST")
            and pattern.startswith(ACTIVE_PREFIXES)
            and not pattern.endswith(MEMBERSHIP_SUFFIXES)
            else handler,
        )
        for method, pattern, handler in routes
    ]


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

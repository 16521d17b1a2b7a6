"""``GET /notifications`` (client-server-api "Listing Notifications",
notifications.yaml): the events that notified the user, newest first.

``from`` is the ``next_token`` of an earlier page (a stream ordering; anything else is
400 ``M_INVALID_PARAM``), ``limit`` defaults to 50 (at most 1000), ``only=highlight``
keeps highlighting notifications. Each entry has the rendered event as the user may
see it (notifications about events the user can no longer see are skipped), the
actions of the rule that matched, ``read`` (the user's receipt is at or after it),
``room_id``, ``ts`` and ``profile_tag`` (null: no per-device rule sets).
"""

from __future__ import annotations

from ranvier.api.auth import require_user
from ranvier.api.client.common import V3, RouteDef
from ranvier.core.events import JsonDict
from ranvier.http.parse import query_int
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.push.counts import NotificationStore
from ranvier.rooms.service import RoomService

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


class NotificationsApi:
    """Serves ``GET /notifications``."""

    def __init__(self, notifications: NotificationStore, rooms: RoomService) -> None:
        self.notifications = notifications
        self.rooms = rooms

    async def get(self, request: Request) -> Response:
        """``GET /notifications``."""
        requester = await require_user(request, allow_guest=False)
        token = request.query_one("from")
        before: int | None = None
        if token:
            if not token.isascii() or not token.isdigit():
                raise MatrixError(400, "M_INVALID_PARAM", "Invalid 'from' token")
            before = int(token)
        limit = query_int(request, "limit", DEFAULT_LIMIT, minimum=0, maximum=2**31)
        limit = min(limit if limit is not None else DEFAULT_LIMIT, MAX_LIMIT)
        only = request.query_one("only")
        rows = await self.notifications.list(
            requester.user_id, before, limit, only_highlight=only == "highlight"
        )
        out: list[JsonDict] = []
        for row in rows:
            stored = await self.rooms.events.get_by_id(row.event_id)
            if stored is None or stored.rejected:
                continue
            if not await self.rooms.can_see(requester.user_id, stored):
                continue
            event = await self.rooms.renderer.render_one(stored, requester.user_id)
            out.append(
                {
                    "room_id": row.room_id,
                    "event": event,
                    "actions": row.actions,
                    "read": row.read,
                    "ts": row.ts,
                    "profile_tag": None,
                }
            )
        body: JsonDict = {"notifications": out}
        if rows and len(rows) == limit:
            body["next_token"] = str(rows[-1].stream_ordering)
        return json_response(body)

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [("GET", f"{V3}/notifications", self.get)]

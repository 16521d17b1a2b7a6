"""``GET /events`` (client-server-api, deprecated since r0: old_sync.yaml ``getEvents``):
the old event stream, answered from the ``/sync`` machinery.

Theory of operation: the ``from`` token is a ``/sync`` token (``next_batch``; "either
from a previous request to this API or from the initial sync API"). Without one (or
with an empty one) the stream starts now. The request is an incremental sync of
``(from, now]`` by :class:`~ranvier.sync.service.SyncService` that long-polls up to
``timeout`` ms; its answer is flattened into ``chunk``: the timeline events of joined
and left rooms and the rooms' ephemeral events (typing, receipts), each with its
``room_id``, then presence events. ``start`` is ``from``, ``end`` the sync's
``next_batch``. The sync runs without a device, so it neither consumes nor delivers
to-device messages (this endpoint never carried them), and with a timeline limit of
:data:`TIMELINE_LIMIT` per room. A malformed ``from`` is 400 ``M_INVALID_PARAM``, as
for ``/sync``'s ``since``. Served at ``/v3/events`` and at the legacy ``/r0/events``.
"""

from __future__ import annotations

from typing import Any

import orjson

from ranvier.api.auth import require_user
from ranvier.api.client.common import CLIENT, V3, RouteDef
from ranvier.core.events import JsonDict
from ranvier.http.parse import query_int
from ranvier.http.types import Request, Response, json_response
from ranvier.sync.service import SyncService

TIMELINE_LIMIT = 100
_FILTER = orjson.dumps({"room": {"timeline": {"limit": TIMELINE_LIMIT}}}).decode()


def flatten_sync(body: JsonDict) -> list[JsonDict]:
    """The events of a ``/sync`` body in the old stream's shape (module docstring)."""
    chunk: list[JsonDict] = []
    rooms: Any = body.get("rooms", {})
    for section in ("join", "leave"):
        for room_id, entry in rooms.get(section, {}).items():
            for key in ("timeline", "ephemeral"):
                for event in entry.get(key, {}).get("events", []):
                    chunk.append({**event, "room_id": room_id})
    chunk.extend(body.get("presence", {}).get("events", []))
    return chunk


class EventsApi:
    """Serves the deprecated ``/events``."""

    def __init__(self, sync: SyncService) -> None:
        self.sync = sync

    async def events(self, request: Request) -> Response:
        """``GET /events`` (``from``, ``timeout``)."""
        requester = await require_user(request)
        start = request.query_one("from") or str(await self.sync.current_token())
        body = await self.sync.sync(
            requester.user_id,
            None,
            since=start,
            filter_param=_FILTER,
            timeout_ms=query_int(request, "timeout", 0, minimum=0) or 0,
        )
        return json_response(
            {"start": start, "end": body["next_batch"], "chunk": flatten_sync(body)}
        )

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [
            ("GET", f"{V3}/events", self.events),
            ("GET", f"{CLIENT}/r0/events", self.events),
        ]

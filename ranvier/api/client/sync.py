"""``GET /sync`` (client-server-api "Syncing", sync.yaml).

Parses the query (``since``, ``filter``, ``full_state``, ``set_presence``, ``timeout``,
``use_state_after``) and hands it to :class:`ranvier.sync.service.SyncService`. A
malformed ``since`` is 400 ``M_INVALID_PARAM``; a filter is 400 ``M_NOT_JSON`` (inline,
not JSON), 400 ``M_BAD_JSON`` (not a valid filter), 400 ``M_INVALID_PARAM`` (malformed
id) or 404 ``M_NOT_FOUND`` (unknown id). ``set_presence`` (checked) tells presence
how the syncing user is connected (:mod:`ranvier.ephemeral.presence`).
"""

from __future__ import annotations

from ranvier.api.auth import require_user
from ranvier.api.client.common import V3, RouteDef
from ranvier.http.parse import query_bool, query_int
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.sync.service import SyncService

PRESENCE_VALUES = frozenset({"offline", "online", "unavailable"})


class SyncApi:
    """Serves ``/sync``."""

    def __init__(self, sync: SyncService) -> None:
        self.sync = sync

    async def get_sync(self, request: Request) -> Response:
        """``GET /sync``."""
        requester = await require_user(request)
        presence = request.query_one("set_presence")
        if presence is not None and presence not in PRESENCE_VALUES:
            raise MatrixError(
                400, "M_INVALID_PARAM", "set_presence must be offline, online or unavailable"
            )
        if request.query_one("from") is not None and request.query_one("since") is None:
            raise MatrixError(
                400, "M_INVALID_PARAM", "'from' is not a /sync parameter; use 'since'"
            )
        since = request.query_one("since") or None
        body = await self.sync.sync(
            requester.user_id,
            requester.device_id,
            since=since,
            filter_param=request.query_one("filter"),
            full_state=bool(query_bool(request, "full_state", False)),
            timeout_ms=query_int(request, "timeout", 0, minimum=0) or 0,
            use_state_after=bool(query_bool(request, "use_state_after", False)),
            set_presence=presence,
        )
        return json_response(body)

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [("GET", f"{V3}/sync", self.get_sync)]

"""Serving room events to other servers: ``/event``, ``/state``, ``/state_ids``,
``/event_auth``, ``/backfill``, ``/get_missing_events``.

Spec: server-server-api "Retrieving events" (events.yaml), "Retrieving event
authorisation information" (event_auth.yaml), "Backfilling and retrieving missing
events" (backfill.yaml). Thin handlers: authenticate the origin, parse, and ask
:class:`~ranvier.federation.room_data.RoomData`, which applies the ACL, the
"server in the room" rule and history visibility.
"""

from __future__ import annotations

import time
from typing import Any

from ranvier.api.client.common import RouteDef
from ranvier.api.federation import FEDERATION_V1
from ranvier.federation.inbound_auth import ServerAuthenticator
from ranvier.federation.room_data import MAX_BACKFILL, RoomData
from ranvier.http.parse import parse_json_body, query_int, query_list, query_str
from ranvier.http.types import MatrixError, Request, Response, json_response


def _now_ms() -> int:
    return int(time.time() * 1000)


def _str_list(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MatrixError(400, "M_BAD_JSON", f"'{key}' must be a list of event IDs")
    return value


def _int(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MatrixError(400, "M_BAD_JSON", f"'{key}' must be a non-negative integer")
    return value


class FederationEventsApi:
    """Room data for other servers."""

    def __init__(self, data: RoomData, auth: ServerAuthenticator) -> None:
        self.data = data
        self.auth = auth
        self.server_name = data.server_name

    def _transaction(self, pdus: list[Any]) -> Response:
        return json_response(
            {"origin": self.server_name, "origin_server_ts": _now_ms(), "pdus": pdus}
        )

    async def event(self, request: Request) -> Response:
        """``GET /event/{eventId}``."""
        origin = await self.auth.require_server(request)
        pdu = await self.data.event(origin, request.path_params["eventId"])
        return self._transaction([pdu])

    async def state(self, request: Request) -> Response:
        """``GET /state/{roomId}?event_id=``."""
        origin = await self.auth.require_server(request)
        state, chain = await self.data.state_at(
            origin, request.path_params["roomId"], query_str(request, "event_id")
        )
        return json_response({"pdus": [e.pdu for e in state], "auth_chain": [e.pdu for e in chain]})

    async def state_ids(self, request: Request) -> Response:
        """``GET /state_ids/{roomId}?event_id=``."""
        origin = await self.auth.require_server(request)
        state, chain = await self.data.state_at(
            origin, request.path_params["roomId"], query_str(request, "event_id")
        )
        return json_response(
            {
                "pdu_ids": [e.event_id for e in state],
                "auth_chain_ids": [e.event_id for e in chain],
            }
        )

    async def event_auth(self, request: Request) -> Response:
        """``GET /event_auth/{roomId}/{eventId}``."""
        origin = await self.auth.require_server(request)
        chain = await self.data.event_auth(
            origin, request.path_params["roomId"], request.path_params["eventId"]
        )
        return json_response({"auth_chain": [e.pdu for e in chain]})

    async def backfill(self, request: Request) -> Response:
        """``GET /backfill/{roomId}?v=...&limit=``."""
        origin = await self.auth.require_server(request)
        event_ids = query_list(request, "v")
        if not event_ids:
            raise MatrixError(400, "M_MISSING_PARAM", "Missing parameter: v")
        limit = query_int(request, "limit", minimum=1)
        if limit is None:
            raise MatrixError(400, "M_MISSING_PARAM", "Missing parameter: limit")
        pdus = await self.data.backfill(
            origin, request.path_params["roomId"], event_ids, min(limit, MAX_BACKFILL)
        )
        return self._transaction(pdus)

    async def get_missing_events(self, request: Request) -> Response:
        """``POST /get_missing_events/{roomId}``."""
        origin = await self.auth.require_server(request)
        body = parse_json_body(request)
        events = await self.data.missing_events(
            origin,
            request.path_params["roomId"],
            _str_list(body, "earliest_events"),
            _str_list(body, "latest_events"),
            _int(body, "limit", 10),
            _int(body, "min_depth", 0),
        )
        return json_response({"events": events})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        v1 = FEDERATION_V1
        return [
            ("GET", f"{v1}/event/{{eventId}}", self.event),
            ("GET", f"{v1}/state/{{roomId}}", self.state),
            ("GET", f"{v1}/state_ids/{{roomId}}", self.state_ids),
            ("GET", f"{v1}/event_auth/{{roomId}}/{{eventId}}", self.event_auth),
            ("GET", f"{v1}/backfill/{{roomId}}", self.backfill),
            ("POST", f"{v1}/get_missing_events/{{roomId}}", self.get_missing_events),
        ]

"""Fetching room events from other servers (the network side of the remote room input).

Spec: server-server-api "Retrieving events" (``GET /event``, ``GET /state_ids``),
"Retrieving event authorisation information" (``GET /event_auth``), "Backfilling and
retrieving missing events" (``POST /get_missing_events``).

:class:`FederationEventSource` implements :class:`ranvier.rooms.remote.EventSource`
over the signed :class:`~ranvier.federation.client.FederationClient`. Answers are
shape-checked here (lists of objects, lists of strings); the events themselves are
checked by the room input like any received PDU. Failures raise
:class:`~ranvier.federation.client.FederationError` (or ValueError for a malformed
answer); the room input decides what a failure means.
"""

from __future__ import annotations

from typing import Any

from ranvier.core.events import JsonDict
from ranvier.federation.client import FederationClient, RemoteError, path_segment

V1 = "/_matrix/federation/v1"


def _pdu_list(answer: Any, key: str) -> list[JsonDict]:
    if not isinstance(answer, dict) or not isinstance(answer.get(key), list):
        raise ValueError(f"answer has no '{key}' list")
    return [p for p in answer[key] if isinstance(p, dict)]


def _id_list(answer: Any, key: str) -> list[str]:
    if not isinstance(answer, dict) or not isinstance(answer.get(key), list):
        raise ValueError(f"answer has no '{key}' list")
    values = answer[key]
    if not all(isinstance(v, str) for v in values):
        raise ValueError(f"'{key}' must list event ids")
    return list(values)


class FederationEventSource:
    """Room events fetched over federation."""

    def __init__(self, client: FederationClient) -> None:
        self.client = client
        self.requests: dict[str, int] = {}
        """Requests made, by endpoint name (for tests and metrics)."""

    def _count(self, name: str) -> None:
        self.requests[name] = self.requests.get(name, 0) + 1

    async def fetch_event(self, destination: str, event_id: str) -> JsonDict | None:
        """``GET /event/{eventId}``; None when the server does not have it (404)."""
        self._count("event")
        try:
            answer = await self.client.get_json(destination, f"{V1}/event/{path_segment(event_id)}")
        except RemoteError as exc:
            if exc.status == 404:
                return None
            raise
        pdus = _pdu_list(answer, "pdus")
        return pdus[0] if pdus else None

    async def fetch_auth_chain(
        self, destination: str, room_id: str, event_id: str
    ) -> list[JsonDict]:
        """``GET /event_auth/{roomId}/{eventId}``."""
        self._count("event_auth")
        answer = await self.client.get_json(
            destination, f"{V1}/event_auth/{path_segment(room_id)}/{path_segment(event_id)}"
        )
        return _pdu_list(answer, "auth_chain")

    async def fetch_missing(
        self,
        destination: str,
        room_id: str,
        earliest: list[str],
        latest: list[str],
        limit: int,
        min_depth: int,
    ) -> list[JsonDict]:
        """``POST /get_missing_events/{roomId}``."""
        self._count("get_missing_events")
        answer = await self.client.post_json(
            destination,
            f"{V1}/get_missing_events/{path_segment(room_id)}",
            {
                "earliest_events": earliest,
                "latest_events": latest,
                "limit": limit,
                "min_depth": min_depth,
            },
        )
        return _pdu_list(answer, "events")

    async def fetch_state_ids(
        self, destination: str, room_id: str, event_id: str
    ) -> tuple[list[str], list[str]]:
        """``GET /state_ids/{roomId}?event_id=``."""
        self._count("state_ids")
        answer = await self.client.get_json(
            destination, f"{V1}/state_ids/{path_segment(room_id)}", {"event_id": event_id}
        )
        return _id_list(answer, "pdu_ids"), _id_list(answer, "auth_chain_ids")

    async def backfill(
        self, destination: str, room_id: str, event_ids: list[str], limit: int
    ) -> list[JsonDict]:
        """``GET /backfill/{roomId}?v=...&limit=``."""
        self._count("backfill")
        answer = await self.client.get_json(
            destination,
            f"{V1}/backfill/{path_segment(room_id)}",
            {"v": event_ids, "limit": limit},
        )
        return _pdu_list(answer, "pdus")

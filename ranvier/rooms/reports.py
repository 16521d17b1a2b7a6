"""Reports of rooms and events (client-server-api "Reporting content", report_content.yaml).

A report is stored in ``content_reports`` (migration 0500) for the server's admins; how
they are told is left to implementations, and this server only stores them.

* ``POST /rooms/{roomId}/report/{eventId}``: "The caller must be joined to the room";
  the event must exist in that room and be visible to the reporter under history
  visibility, and not be redacted (the spec allows 404 for a redacted event). Every
  failing case is the same 404 ``M_NOT_FOUND``, so the answer reveals no more than the
  spec's response does. ``reason`` is optional; ``score`` (removed in v1.18) is
  stored when it is an integer in -100..0, as earlier versions defined it, and
  otherwise ignored.
* ``POST /rooms/{roomId}/report`` (v1.13): the caller need not be joined; an unknown
  room is 404 ``M_NOT_FOUND``; ``reason`` is required (it may be blank).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ranvier.db import Database
from ranvier.http.types import MatrixError
from ranvier.rooms.service import RoomService


@dataclass(frozen=True, slots=True)
class Report:
    """One stored report."""

    report_id: str
    room_id: str
    event_id: str | None
    reporter: str
    reason: str | None
    score: int | None
    received_ts: int


class ReportStore:
    """The ``content_reports`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self,
        room_id: str,
        event_id: str | None,
        reporter: str,
        reason: str | None,
        score: int | None,
    ) -> Report:
        """Store a report; return it."""
        report = Report(
            secrets.token_urlsafe(12),
            room_id,
            event_id,
            reporter,
            reason,
            score,
            int(time.time() * 1000),
        )
        await self.db.execute(
            "INSERT INTO content_reports (report_id, room_id, event_id, reporter, reason, score,"
            " received_ts) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            report.report_id,
            report.room_id,
            report.event_id,
            report.reporter,
            report.reason,
            report.score,
            report.received_ts,
        )
        return report

    async def for_room(self, room_id: str) -> list[Report]:
        """The reports about a room and its events, oldest first."""
        rows = await self.db.fetchall(
            "SELECT report_id, room_id, event_id, reporter, reason, score, received_ts"
            " FROM content_reports WHERE room_id = $1 ORDER BY received_ts, report_id",
            room_id,
        )
        return [
            Report(
                str(r[0]),
                str(r[1]),
                None if r[2] is None else str(r[2]),
                str(r[3]),
                None if r[4] is None else str(r[4]),
                None if r[5] is None else int(r[5]),
                int(r[6]),
            )
            for r in rows
        ]


def _reason(body: Mapping[str, Any], required: bool) -> str | None:
    reason = body.get("reason")
    if reason is None:
        if required:
            raise MatrixError(400, "M_MISSING_PARAM", "Missing 'reason'")
        return None
    if not isinstance(reason, str):
        raise MatrixError(400, "M_INVALID_PARAM", "'reason' must be a string")
    return reason


def _score(body: Mapping[str, Any]) -> int | None:
    score = body.get("score")
    if isinstance(score, int) and not isinstance(score, bool) and -100 <= score <= 0:
        return score
    return None


class ReportService:
    """Access checks and storage of reports (see the module docstring)."""

    def __init__(self, rooms: RoomService, store: ReportStore) -> None:
        self.rooms = rooms
        self.store = store

    async def report_event(
        self, room_id: str, event_id: str, reporter: str, body: Mapping[str, Any]
    ) -> Report:
        """``POST /rooms/{roomId}/report/{eventId}``."""
        reason = _reason(body, required=False)
        score = _score(body)
        not_found = MatrixError(
            404, "M_NOT_FOUND", "The event was not found or you are not joined to the room"
        )
        room = await self.rooms.events.get_room(room_id)
        if room is None or await self.rooms.events.membership_of(room.nid, reporter) != "join":
            raise not_found
        stored = await self.rooms.events.get_by_id(event_id)
        if (
            stored is None
            or stored.room_nid != room.nid
            or stored.rejected
            or stored.redacted_by is not None
            or not await self.rooms.can_see(reporter, stored)
        ):
            raise not_found
        return await self.store.add(room_id, event_id, reporter, reason, score)

    async def report_room(self, room_id: str, reporter: str, body: Mapping[str, Any]) -> Report:
        """``POST /rooms/{roomId}/report``."""
        reason = _reason(body, required=True)
        if await self.rooms.events.get_room(room_id) is None:
            raise MatrixError(404, "M_NOT_FOUND", "The room was not found")
        return await self.store.add(room_id, None, reporter, reason, None)

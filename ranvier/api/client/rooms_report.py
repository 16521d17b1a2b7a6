"""``POST /rooms/{roomId}/report/{eventId}`` and ``POST /rooms/{roomId}/report`` (v1.13)
(client-server-api "Reporting content", report_content.yaml).

Thin handlers over :class:`ranvier.rooms.reports.ReportService`, which decides the 404
cases; a stored report answers ``{}``.
"""

from __future__ import annotations

from ranvier.api.auth import require_user
from ranvier.api.client.common import V3, RouteDef, room_id_param
from ranvier.http.parse import parse_json_body
from ranvier.http.types import Request, Response, json_response
from ranvier.rooms.reports import ReportService


class ReportApi:
    """Serves content reports."""

    def __init__(self, reports: ReportService) -> None:
        self.reports = reports

    async def report_event(self, request: Request) -> Response:
        """``POST /rooms/{roomId}/report/{eventId}``."""
        requester = await require_user(request)
        room_id = room_id_param(request)
        body = parse_json_body(request)
        await self.reports.report_event(
            room_id, request.path_params["eventId"], requester.user_id, body
        )
        return json_response({})

    async def report_room(self, request: Request) -> Response:
        """``POST /rooms/{roomId}/report``."""
        requester = await require_user(request)
        room_id = room_id_param(request)
        await self.reports.report_room(room_id, requester.user_id, parse_json_body(request))
        return json_response({})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [
            ("POST", f"{V3}/rooms/{{roomId}}/report/{{eventId}}", self.report_event),
            ("POST", f"{V3}/rooms/{{roomId}}/report", self.report_room),
        ]

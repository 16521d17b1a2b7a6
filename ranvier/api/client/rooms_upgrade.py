"""``POST /rooms/{roomId}/upgrade`` (client-server-api "Room Upgrades", room_upgrades.yaml).

Thin handler over :class:`ranvier.rooms.upgrade.UpgradeService`: ``new_version``
(required), ``additional_creators`` (v1.16, a list of user ids, used for room versions
with privileged creators) -> ``{"replacement_room"}``; errors 400
``M_UNSUPPORTED_ROOM_VERSION``, 403 ``M_FORBIDDEN``, 404 ``M_NOT_FOUND``.
"""

from __future__ import annotations

from ranvier.api.auth import require_user
from ranvier.api.client.common import V3, RouteDef, room_id_param
from ranvier.http.parse import optional_list_of_str, parse_json_body, require_str
from ranvier.http.types import Request, Response, json_response
from ranvier.rooms.upgrade import UpgradeService


class UpgradeApi:
    """Serves room upgrades."""

    def __init__(self, upgrades: UpgradeService) -> None:
        self.upgrades = upgrades

    async def upgrade(self, request: Request) -> Response:
        """``POST /rooms/{roomId}/upgrade``."""
        requester = await require_user(request)
        room_id = room_id_param(request)
        body = parse_json_body(request)
        new_room = await self.upgrades.upgrade(
            room_id,
            requester.user_id,
            require_str(body, "new_version"),
            optional_list_of_str(body, "additional_creators") or [],
        )
        return json_response({"replacement_room": new_room})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [("POST", f"{V3}/rooms/{{roomId}}/upgrade", self.upgrade)]

"""``POST /createRoom`` (client-server-api "Creation", create_room.yaml).

Thin handler: parses the body and calls :meth:`ranvier.rooms.service.RoomService.create_room`,
which answers 400 ``M_UNSUPPORTED_ROOM_VERSION``, ``M_ROOM_IN_USE`` (alias taken) and
``M_INVALID_ROOM_STATE`` (the initial events would not pass the auth rules).
``invite_3pid`` (objects with ``id_server``, ``id_access_token``, ``medium``,
``address``: create_room.yaml, invite_3pid.yaml) is checked before anything is created
(400 ``M_BAD_JSON``); once the room exists each is invited like ``POST /invite`` with a
third-party identifier (:mod:`ranvier.rooms.third_party_invites`). Without that service
a non-empty list is 400 ``M_UNRECOGNIZED``.

A ``room_version`` that is not a string (e.g. the number ``1``) makes the body malformed:
create_room.yaml lists "The request body is malformed (errcode set to ``M_BAD_JSON``)"
among the 400 answers, so it is refused with ``M_BAD_JSON`` rather than treated as an
unknown version.
"""

from __future__ import annotations

from ranvier.api.auth import require_user
from ranvier.api.client.common import V3, RouteDef
from ranvier.http.parse import (
    optional_bool,
    optional_dict,
    optional_list_of_str,
    optional_str,
    parse_json_body,
)
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.rooms.service import RoomService
from ranvier.rooms.third_party_invites import ThirdPartyInvites

_INVITE_3PID_KEYS = ("id_server", "id_access_token", "medium", "address")


def parse_invite_3pid(value: object) -> list[dict[str, str]]:
    """``invite_3pid`` as a list of its four string fields (400 ``M_BAD_JSON`` otherwise)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise MatrixError(400, "M_BAD_JSON", "invite_3pid must be a list")
    out = []
    for entry in value:
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) for k in _INVITE_3PID_KEYS
        ):
            raise MatrixError(
                400,
                "M_BAD_JSON",
                "invite_3pid entries need id_server, id_access_token, medium and address",
            )
        out.append({k: entry[k] for k in _INVITE_3PID_KEYS})
    return out


class CreateRoomApi:
    """Serves ``/createRoom``."""

    def __init__(self, rooms: RoomService, third_party: ThirdPartyInvites | None = None) -> None:
        self.rooms = rooms
        self.third_party = third_party

    async def create_room(self, request: Request) -> Response:
        """``POST /createRoom``."""
        requester = await require_user(request)
        body = parse_json_body(request)
        invite_3pid = parse_invite_3pid(body.get("invite_3pid"))
        if invite_3pid and self.third_party is None:
            raise MatrixError(400, "M_UNRECOGNIZED", "Third-party invites are not supported")
        visibility = optional_str(body, "visibility", "private")
        assert visibility is not None
        room_version = body.get("room_version")
        if room_version is not None and not isinstance(room_version, str):
            raise MatrixError(400, "M_BAD_JSON", "room_version must be a string")
        initial_state = body.get("initial_state")
        if initial_state is not None and not isinstance(initial_state, list):
            raise MatrixError(400, "M_BAD_JSON", "initial_state must be a list")
        room_id = await self.rooms.create_room(
            requester.user_id,
            room_version=room_version,
            preset=optional_str(body, "preset"),
            name=optional_str(body, "name"),
            topic=optional_str(body, "topic"),
            invite=optional_list_of_str(body, "invite") or [],
            initial_state=initial_state,
            power_level_content_override=optional_dict(body, "power_level_content_override"),
            creation_content=optional_dict(body, "creation_content"),
            is_direct=bool(optional_bool(body, "is_direct", False)),
            visibility=visibility,
            room_alias_name=optional_str(body, "room_alias_name"),
        )
        for invite in invite_3pid:
            assert self.third_party is not None
            await self.third_party.invite(room_id, requester.user_id, **invite)
        return json_response({"room_id": room_id})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [("POST", f"{V3}/createRoom", self.create_room)]

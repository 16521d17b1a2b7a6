"""Helpers shared by the client API modules: path prefixes, route tuples, ownership,
the ``{roomId}`` path parameter and the ``dir`` query parameter."""

from __future__ import annotations

from ranvier.api.auth import Requester
from ranvier.http.parse import query_str
from ranvier.http.router import Handler
from ranvier.http.types import MatrixError, Request

CLIENT = "/_matrix/client"
V3 = f"{CLIENT}/v3"
V1 = f"{CLIENT}/v1"

RouteDef = tuple[str, str, Handler]
"""``(method, pattern, handler)``."""


def ensure_self(requester: Requester, user_id: str, what: str = "this user") -> None:
    """403 ``M_FORBIDDEN`` unless the requester is ``user_id``."""
    if requester.user_id != user_id:
        raise MatrixError(403, "M_FORBIDDEN", f"Cannot access data of {what}")


def check_room_id(room_id: str) -> None:
    """400 ``M_INVALID_PARAM`` unless ``room_id`` looks like ``!opaque:server``/``!opaque``.

    Room IDs of v12 rooms carry no server part (appendices "Room IDs").
    """
    if not room_id.startswith("!") or len(room_id) < 2 or len(room_id.encode()) > 255:
        raise MatrixError(400, "M_INVALID_PARAM", "Invalid room ID")


def room_id_param(request: Request) -> str:
    """The ``{roomId}`` path parameter, checked by :func:`check_room_id`."""
    room_id = request.path_params["roomId"]
    check_room_id(room_id)
    return room_id


def query_dir(request: Request) -> str:
    """The required ``dir`` query parameter of pagination endpoints: ``b`` or ``f``
    (400 ``M_MISSING_PARAM`` when absent, ``M_INVALID_PARAM`` otherwise;
    message_pagination.yaml, room_event_by_timestamp.yaml)."""
    direction = query_str(request, "dir")
    if direction not in ("b", "f"):
        raise MatrixError(400, "M_INVALID_PARAM", "dir must be 'b' or 'f'")
    return direction


def check_user_id(user_id: str) -> None:
    """400 ``M_INVALID_PARAM`` unless ``user_id`` has the ``@localpart:server`` shape."""
    localpart, sep, server = user_id[1:].partition(":")
    if not user_id.startswith("@") or not sep or not localpart or not server:
        raise MatrixError(400, "M_INVALID_PARAM", "Invalid user ID")
    if len(user_id.encode("utf-8")) > 255:
        raise MatrixError(400, "M_INVALID_PARAM", "User ID is too long")

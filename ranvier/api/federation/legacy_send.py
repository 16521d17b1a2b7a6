"""The removed v1 ``send_join``/``send_leave`` endpoints, served for compatibility.

Spec: server-server-api joins-v1/leaving-v1 (removed in v1.18; Sytest and older
servers still call them, see :mod:`ranvier.federation.legacy_v1`). Each is its v2
handling with the v1 shapes around it: the answer as ``[200, answer]`` and a refusal of
the event (bad signature, sender of another server) as 403, as the v1 endpoints had it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ranvier.core.events import JsonDict
from ranvier.federation.inbound_auth import ServerAuthenticator
from ranvier.federation.joins import MembershipRefused
from ranvier.federation.legacy_v1 import wrap_v1
from ranvier.http.parse import parse_json
from ranvier.http.types import Request, Response, json_response

SendV2 = Callable[[str, str, str, Any], Awaitable[JsonDict]]
"""``await send(origin, room_id, event_id, pdu)``: the v2 handling."""


async def legacy_send(request: Request, auth: ServerAuthenticator, send: SendV2) -> Response:
    """``PUT /v1/send_{join,leave}/{roomId}/{eventId}`` through ``send``."""
    origin = await auth.require_server(request)
    try:
        answer = await send(
            origin,
            request.path_params["roomId"],
            request.path_params["eventId"],
            parse_json(request.body),
        )
    except MembershipRefused as exc:
        raise exc.legacy() from None
    return json_response(wrap_v1(answer))

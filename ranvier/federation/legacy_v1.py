"""The v1 forms of ``send_join``, ``send_leave`` and ``invite``, for servers that predate
their v2 replacements.

Spec: server-server-api "Inviting to a room" (``PUT /v1/invite``, invites-v1.yaml:
deprecated but still specified; its body is the invite event itself, with
``unsigned.invite_room_state``, and "Servers which receive a v1 invite request must
assume that the room version is either "1" or "2""); "Joining Rooms" and "Leaving
Rooms" for the v2 forms. ``PUT /v1/send_join`` and ``PUT /v1/send_leave`` were removed
from the specification in v1.18 (MSC4376); ranvier still serves and falls back to them
for the servers that only speak them (the "Server Access Control Lists" section still
lists them as endpoints to protect). The v1 answers carry an extra ``[200, body]``
wrapper (MSC1802 removed it in v2).

Theory of operation: *outbound*, :func:`put_with_v1_fallback` sends the v2 request and,
when the remote answers as a server that does not know the endpoint
(:func:`is_unknown_endpoint`), sends the v1 one and unwraps its answer
(:func:`unwrap_v1`). *Inbound*, the handlers of :mod:`ranvier.api.federation` wrap the
same answers as the v2 routes with :func:`wrap_v1`.
"""

from __future__ import annotations

import logging
from typing import Any

from ranvier.federation.client import FederationClient, RemoteError

logger = logging.getLogger(__name__)

V1 = "/_matrix/federation/v1"
V2 = "/_matrix/federation/v2"


def is_unknown_endpoint(exc: RemoteError) -> bool:
    """Whether ``exc`` says the remote does not implement the endpoint asked: 404 or 405
    with ``M_UNRECOGNIZED`` (client-server-api "Common error codes"), 404/405 with no
    JSON object at all (older servers and SyTest answer a bare 404), or the 400
    ``M_UNRECOGNIZED`` of older Synapse versions. A 404 with another errcode (say
    ``M_NOT_FOUND``: the room is unknown) is a real answer, not a missing endpoint."""
    if exc.status in (404, 405):
        return not isinstance(exc.body, dict) or exc.errcode == "M_UNRECOGNIZED"
    return exc.status == 400 and exc.errcode == "M_UNRECOGNIZED"


def unwrap_v1(answer: Any) -> Any:
    """The body inside a v1 ``[200, body]`` answer; ValueError for another shape."""
    if isinstance(answer, list) and len(answer) == 2 and answer[0] == 200:
        return answer[1]
    raise ValueError("v1 answer is not [200, body]")


def wrap_v1(body: Any) -> list[Any]:
    """A v1 answer: ``[200, body]``."""
    return [200, body]


async def put_with_v1_fallback(
    client: FederationClient,
    destination: str,
    v2_path: str,
    v2_body: Any,
    v1_path: str | None,
    v1_body: Any,
) -> Any:
    """``PUT v2_path`` with ``v2_body``; if ``destination`` does not know that endpoint
    and there is a ``v1_path``, ``PUT v1_path`` with ``v1_body`` instead and return its
    unwrapped answer. Raises what the client raises (the v2 error when there is no v1
    path), and ValueError for a v1 answer of the wrong shape."""
    try:
        return await client.put_json(destination, v2_path, v2_body)
    except RemoteError as exc:
        if v1_path is None or not is_unknown_endpoint(exc):
            raise
        logger.info("%s does not know %s (%s): trying v1", destination, v2_path, exc)
    return unwrap_v1(await client.put_json(destination, v1_path, v1_body))

"""Events as clients see them (client-server-api "Room Events", ``ClientEvent``).

A client event keeps ``content``, ``event_id``, ``origin_server_ts``, ``room_id``,
``sender``, ``type`` and, for state events, ``state_key``; server-to-server fields
(``auth_events``, ``prev_events``, ``depth``, ``hashes``, ``signatures``) are dropped.
``unsigned`` carries ``age`` (milliseconds since the event was sent, by this server's
clock) and ``transaction_id`` when the event was sent by the requesting device.
"""

from __future__ import annotations

import time
from typing import Any

from ranvier.core.events import Event, JsonDict


def client_event(
    event: Event,
    *,
    now_ms: int | None = None,
    transaction_id: str | None = None,
    include_room_id: bool = True,
    extra_unsigned: dict[str, Any] | None = None,
) -> JsonDict:
    """The ``ClientEvent`` form of ``event``."""
    if now_ms is None:
        now_ms = int(time.time() * 1000)
    out: JsonDict = {
        "content": event.content,
        "event_id": event.event_id,
        "origin_server_ts": event.origin_server_ts,
        "sender": event.sender,
        "type": event.type,
    }
    if include_room_id:
        out["room_id"] = event.room_id
    if event.state_key is not None:
        out["state_key"] = event.state_key
    if event.redacts is not None and event.type == "m.room.redaction":
        out["redacts"] = event.redacts
    unsigned: dict[str, Any] = {"age": max(0, now_ms - event.origin_server_ts)}
    if transaction_id is not None:
        unsigned["transaction_id"] = transaction_id
    if extra_unsigned:
        unsigned.update(extra_unsigned)
    out["unsigned"] = unsigned
    return out

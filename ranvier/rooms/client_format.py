"""Events as clients see them (client-server-api "Room Events", ``ClientEvent``).

A client event keeps ``content``, ``event_id``, ``origin_server_ts``, ``room_id``,
``sender``, ``type`` and, for state events, ``state_key``; server-to-server fields
(``auth_events``, ``prev_events``, ``depth``, ``hashes``, ``signatures``) are dropped.
``unsigned`` carries ``age`` (milliseconds since the event was sent, by this server's
clock) and ``transaction_id`` when the event was sent by the requesting device.

A redacted event is passed already redacted (the event store reads it so) with its
redaction, rendered by this same function, as ``redacted_because`` (client-server-api
"Redactions"). ``m.room.redaction`` events carry ``redacts`` both at the top level and
in ``content`` whatever the room version (rooms/v11 "Moving the redacts property":
top level for older clients, ``content`` for newer ones in older rooms).

Bundled aggregations and redactions for a batch of stored events are added by
:class:`ranvier.rooms.render.ClientEventRenderer`, which calls this function.
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
    redacted_because: JsonDict | None = None,
) -> JsonDict:
    """The ``ClientEvent`` form of ``event``; ``redacted_because`` is the client form of
    the redaction of a redacted ``event``."""
    if now_ms is None:
        now_ms = int(time.time() * 1000)
    content = event.content
    if (
        event.type == "m.room.redaction"
        and event.redacts is not None
        and content.get("redacts") != event.redacts
    ):
        content = {**content, "redacts": event.redacts}
    out: JsonDict = {
        "content": content,
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
    if redacted_because is not None:
        unsigned["redacted_because"] = redacted_because
        # Not in the spec's ClientEvent, but unsigned is open-ended and clients of
        # Synapse read the redaction's id here without unpacking redacted_because.
        if isinstance(redacted_because.get("event_id"), str):
            unsigned["redacted_by"] = redacted_because["event_id"]
    if extra_unsigned:
        unsigned.update(extra_unsigned)
    out["unsigned"] = unsigned
    return out

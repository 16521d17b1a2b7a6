"""Messages the room input pipeline publishes on the bus after each commit.

Consumers (the sync notifier now; the federation sender, push and appservices later)
subscribe to :data:`ROOM_EVENTS`. A message carries only JSON values, so a NATS
JetStream bus can serialise it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ranvier.bus import Topic


@dataclass(frozen=True, slots=True)
class RoomEventPersisted:
    """An event was committed to a room (accepted, with its stream position)."""

    room_id: str
    event_id: str
    stream_ordering: int
    room_version: str
    event_type: str
    state_key: str | None
    sender: str
    membership: str | None
    """``content.membership`` of an ``m.room.member`` event, else None."""
    pdu: dict[str, Any]
    """The event as stored (do not mutate)."""


ROOM_EVENTS: Topic[RoomEventPersisted] = Topic("roomserver.output.events", RoomEventPersisted)
"""Every event persisted by the room input pipeline, in stream order per room."""

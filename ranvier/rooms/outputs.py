"""Messages the room input pipeline publishes on the bus after each commit.

Consumers (the sync notifier now; the federation sender, push and appservices later)
subscribe to :data:`ROOM_EVENTS`. A message carries only JSON values, so a NATS
JetStream bus can serialise it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ranvier.bus import Topic
from ranvier.core.events import Event


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

    @classmethod
    def of(cls, event: Event, stream_ordering: int) -> RoomEventPersisted:
        """The message for ``event`` committed at ``stream_ordering`` (one builder for
        the local pipeline, remote input, federated joins and out-of-room memberships)."""
        return cls(
            room_id=event.room_id,
            event_id=event.event_id,
            stream_ordering=stream_ordering,
            room_version=event.room_version.identifier,
            event_type=event.type,
            state_key=event.state_key,
            sender=event.sender,
            membership=event.membership if event.type == "m.room.member" else None,
            pdu=event.pdu,
        )


ROOM_EVENTS: Topic[RoomEventPersisted] = Topic("roomserver.output.events", RoomEventPersisted)
"""Every event persisted by the room input pipeline, in stream order per room."""

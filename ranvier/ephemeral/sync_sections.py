"""The ephemeral parts of a ``/sync`` response: each joined room's ``ephemeral`` events
(``m.typing``, ``m.receipt``) and the top-level ``presence`` events.

Spec: client-server-api "Syncing" (sync.yaml: ``rooms.join.<id>.ephemeral.events``,
``presence.events``), "Typing Notifications", "Receipts", "Presence", and "Filtering"
(``room.ephemeral`` is a ``RoomEventFilter``, ``presence`` an ``EventFilter``).

:class:`EphemeralStreams` bundles the three streams for the sync service: their current
positions (the parts of the since-token they own), their listeners (connected to the
sync notifier) and the sections for a range of positions. A ``since`` of None is an
initial sync: typing of rooms where someone types now, every receipt of the joined
rooms, and the latest presence of everyone sharing a room with the user.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from ranvier.core.events import JsonDict
from ranvier.ephemeral.presence import PresenceService
from ranvier.ephemeral.receipts import ReceiptService
from ranvier.ephemeral.stream import StreamListener
from ranvier.ephemeral.typing import TypingState
from ranvier.sync.filters import EventFilter, RoomEventFilter


@dataclass(frozen=True, slots=True)
class EphemeralPositions:
    """A position in each ephemeral stream."""

    typing: int = 0
    receipts: int = 0
    presence: int = 0


class EphemeralStreams:
    """Typing, receipts and presence as ``/sync`` reads them."""

    def __init__(
        self, typing: TypingState, receipts: ReceiptService, presence: PresenceService
    ) -> None:
        self.typing = typing
        self.receipts = receipts
        self.presence = presence

    def connect(
        self,
        on_typing: StreamListener,
        on_receipts: StreamListener,
        on_presence: StreamListener,
    ) -> None:
        """Tell these listeners (the sync notifier's) about every later change."""
        self.typing.listeners.add(on_typing)
        self.receipts.listeners.add(on_receipts)
        self.presence.listeners.add(on_presence)

    async def positions(self) -> EphemeralPositions:
        """The current position of each stream."""
        return EphemeralPositions(
            self.typing.current_position(),
            await self.receipts.current_position(),
            await self.presence.current_position(),
        )

    async def room_events(
        self,
        user_id: str,
        joined: Sequence[str],
        since: EphemeralPositions | None,
        upto: EphemeralPositions,
        flt: RoomEventFilter | None = None,
    ) -> dict[str, list[JsonDict]]:
        """``{room_id: ephemeral events}`` of the joined rooms with something new in
        ``(since, upto]`` (rooms with nothing are left out)."""
        flt = flt or RoomEventFilter()
        rooms = [r for r in joined if flt.allows_room(r)]
        if not rooms:
            return {}
        typing = self.typing.changes_since(
            user_id, rooms, 0 if since is None else since.typing, upto.typing
        )
        receipts = await self.receipts.changes_since(
            user_id, rooms, 0 if since is None else since.receipts, upto.receipts
        )
        out: dict[str, list[JsonDict]] = {}
        for room_id in rooms:
            events = [e for e in (typing.get(room_id), receipts.get(room_id)) if e is not None]
            events = flt.filter_json(events)
            if events:
                out[room_id] = events
        return out

    async def presence_events(
        self,
        user_id: str,
        since: EphemeralPositions | None,
        upto: EphemeralPositions,
        flt: EventFilter | None = None,
        newly_joined: Collection[str] = (),
        new_members: Collection[str] = (),
    ) -> list[JsonDict]:
        """The ``presence.events`` of a sync over ``(since, upto]``, plus the current
        presence not changed in the range of the members of ``newly_joined`` rooms (the
        user just joined them) and of ``new_members`` (they just joined a room of the
        user's): neither side has seen the other's presence yet."""
        events = await self.presence.changes_since(
            user_id, (), 0 if since is None else since.presence, upto.presence
        )
        senders = {e["sender"] for e in events}
        extra = await self.presence.members_presence(user_id, newly_joined)
        extra += await self.presence.users_presence(
            [u for u in new_members if u != user_id and u not in senders]
        )
        for event in extra:
            if event["sender"] not in senders:
                senders.add(event["sender"])
                events.append(event)
        return (flt or EventFilter()).filter_json(events)

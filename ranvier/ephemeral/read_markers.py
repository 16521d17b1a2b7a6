"""Fully read markers: ``m.fully_read`` room account data, set only through this service.

Spec: client-server-api "Fully read markers" (read_markers.yaml): the marker is the room
account data event ``m.fully_read`` ``{"event_id": ...}``; clients cannot set it
directly (the account data API refuses it), only through ``POST
/rooms/{roomId}/read_markers`` (which may also carry ``m.read`` and ``m.read.private``,
treated exactly like ``/receipt`` requests) or ``/receipt/m.fully_read/{eventId}``.
The event "MUST belong to the room" (404 ``M_NOT_FOUND`` otherwise, as for receipts).

Like receipts, the marker only moves forward in the room's stream: a request naming
an event at or before the current marker changes nothing. Updates of one user's marker
in one room are serialised by an in-process lock so two racing requests cannot move it
back. The account data store's write notifies its listeners (the sync notifier), which
delivers the updated event through ``/sync``.
"""

from __future__ import annotations

from ranvier.ephemeral.locks import KeyedLocks
from ranvier.ephemeral.receipts import FULLY_READ, READ, READ_PRIVATE, ReceiptService
from ranvier.users.account_data import AccountDataStore


class ReadMarkers:
    """Sets fully read markers and the receipts that come with them."""

    def __init__(self, account_data: AccountDataStore, receipts: ReceiptService) -> None:
        self.account_data = account_data
        self.receipts = receipts
        self._locks = KeyedLocks()

    async def set_fully_read(self, room_id: str, user_id: str, event_id: str) -> bool:
        """Move ``user_id``'s marker in ``room_id`` to ``event_id`` if that is ahead;
        return whether it moved."""
        stored = await self.receipts.visible_event(room_id, event_id, user_id)
        async with self._locks.hold((user_id, room_id)):
            current = await self.account_data.get(user_id, room_id, FULLY_READ)
            old_id = None if current is None else current.get("event_id")
            if old_id == event_id:
                return False
            if isinstance(old_id, str):
                old = await self.receipts.rooms.events.get_by_id(old_id)
                if (
                    old is not None
                    and old.event.room_id == room_id
                    and old.stream_ordering >= stored.stream_ordering
                ):
                    return False
            await self.account_data.put(user_id, room_id, FULLY_READ, {"event_id": event_id})
            return True

    async def set_markers(
        self,
        room_id: str,
        user_id: str,
        *,
        fully_read: str | None = None,
        read: str | None = None,
        read_private: str | None = None,
    ) -> None:
        """``POST /rooms/{roomId}/read_markers``: each given marker, receipts first."""
        if read is not None:
            await self.receipts.send_receipt(room_id, user_id, READ, read)
        if read_private is not None:
            await self.receipts.send_receipt(room_id, user_id, READ_PRIVATE, read_private)
        if fully_read is not None:
            await self.set_fully_read(room_id, user_id, fully_read)

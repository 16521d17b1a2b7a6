"""Receipts: validating a client's receipt, storing it, and the receipts sync stream.

Spec: client-server-api "Receipts" (``POST /rooms/{roomId}/receipt/{receiptType}/{eventId}``,
receipts.yaml; "Private read receipts"; "Threaded read receipts") and the ``m.receipt``
event (``{event_id: {receipt_type: {user_id: {"ts": ..., "thread_id"?: ...}}}}``).

Theory of operation
-------------------
A receipt names an event the user can see in the room (an unknown, rejected or
invisible event is 404 ``M_NOT_FOUND``, so receipts reveal nothing about events the
user may not see). A ``thread_id`` must be a non-empty string (400 ``M_INVALID_PARAM``)
and must not contradict the event: an event that declares an ``m.thread`` relation is
in that thread, never in ``main`` or another thread. (Events related to a thread only
indirectly cannot be told apart without the relations index, so they are accepted.)
The store keeps the latest receipt per ``(room, type, user, thread)`` and never moves
one back (:mod:`ranvier.ephemeral.receipts_store`).

The stream: :meth:`ReceiptService.changes_since` gives each room's new receipts as ONE
``m.receipt`` event (the spec's "batched into one event per room"), deltas that update
the client's mappings. ``m.read.private`` receipts go only to their owner: they are
filtered out for everybody else, and their listeners are told only the owner's user id,
so other members' long-polls do not even wake.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import Any

from ranvier.core.events import JsonDict
from ranvier.ephemeral.receipts_store import Receipt, ReceiptStore
from ranvier.ephemeral.stream import Listeners
from ranvier.http.types import MatrixError
from ranvier.rooms.event_store import StoredEvent
from ranvier.rooms.service import RoomService

READ = "m.read"
READ_PRIVATE = "m.read.private"
FULLY_READ = "m.fully_read"
RECEIPT_TYPES = frozenset({READ, READ_PRIVATE})
"""Receipt types stored as receipts (``m.fully_read`` is a read marker)."""
MAIN_THREAD = "main"

ReadHook = Callable[[str, str, str, int, str | None], Awaitable[None]]
"""``await hook(room_id, user_id, receipt_type, event_stream_ordering, thread_id)``
(``thread_id`` None for an unthreaded receipt)."""


def thread_of(event_content: JsonDict) -> str | None:
    """The thread root an event declares with an ``m.thread`` relation, or None
    (client-server-api "Threading"; also None for a root id holding U+0000, which names
    no event and which PostgreSQL cannot store, as a thread id)."""
    relates = event_content.get("m.relates_to")
    if not isinstance(relates, dict) or relates.get("rel_type") != "m.thread":
        return None
    root = relates.get("event_id")
    return root if isinstance(root, str) and "\x00" not in root else None


def check_thread_id(thread_id: Any, event_id: str, event_content: JsonDict) -> str | None:
    """Validate a request's ``thread_id`` (None when absent) against the event; 400
    ``M_INVALID_PARAM`` when malformed or contradicted by the event's own relation."""
    if thread_id is None:
        return None
    if not isinstance(thread_id, str) or not thread_id:
        raise MatrixError(400, "M_INVALID_PARAM", "thread_id field must be a non-empty string")
    root = thread_of(event_content)
    if root is not None and thread_id != root:
        raise MatrixError(
            400, "M_INVALID_PARAM", f"event_id {event_id} is not related to thread {thread_id}"
        )
    return thread_id


def aggregate(receipts: Iterable[Receipt]) -> JsonDict:
    """One ``m.receipt`` event's content for receipts of one room, later ones winning."""
    content: dict[str, dict[str, dict[str, JsonDict]]] = {}
    for r in receipts:
        content.setdefault(r.event_id, {}).setdefault(r.receipt_type, {})[r.user_id] = r.data
    return content


def visible_to(receipt: Receipt, user_id: str) -> bool:
    """Whether ``user_id`` may see ``receipt`` (private receipts only by their owner)."""
    return receipt.receipt_type != READ_PRIVATE or receipt.user_id == user_id


class ReceiptService:
    """Client receipts and the receipts sync stream."""

    def __init__(self, store: ReceiptStore, rooms: RoomService) -> None:
        self.store = store
        self.rooms = rooms
        self.listeners = Listeners()
        self.read_hooks: list[ReadHook] = []
        """Called after a local receipt moved, before sync is woken (push resets the
        user's unread counts there)."""

    async def visible_event(self, room_id: str, event_id: str, user_id: str) -> StoredEvent:
        """The event ``event_id`` of ``room_id`` if ``user_id`` may see it, else 404."""
        stored = await self.rooms.events.get_by_id(event_id)
        if (
            stored is None
            or stored.event.room_id != room_id
            or stored.rejected
            or not await self.rooms.can_see(user_id, stored)
        ):
            raise MatrixError(404, "M_NOT_FOUND", "Event not found")
        return stored

    async def send_receipt(
        self,
        room_id: str,
        user_id: str,
        receipt_type: str,
        event_id: str,
        thread_id: Any = None,
    ) -> bool:
        """Record a local user's receipt; return whether it moved anything."""
        if receipt_type not in RECEIPT_TYPES:
            raise MatrixError(400, "M_INVALID_PARAM", f"Unknown receipt type {receipt_type!r}")
        stored = await self.visible_event(room_id, event_id, user_id)
        thread = check_thread_id(thread_id, event_id, stored.event.content)
        data: JsonDict = {"ts": int(time.time() * 1000)}
        if thread is not None:
            data["thread_id"] = thread
        position = await self.store.put(
            room_id, receipt_type, user_id, thread, event_id, stored.stream_ordering, data
        )
        if position is None:
            return False
        for hook in self.read_hooks:
            await hook(room_id, user_id, receipt_type, stored.stream_ordering, thread)
        if receipt_type == READ_PRIVATE:
            self.listeners.notify(position, (), (user_id,))
        else:
            self.listeners.notify(position, (room_id,), ())
        return True

    async def current_position(self) -> int:
        """The position of the latest receipt written."""
        return await self.store.current_position()

    async def changes_since(
        self, user_id: str, rooms: Collection[str], from_pos: int, to_pos: int
    ) -> dict[str, JsonDict]:
        """``{room_id: m.receipt event}`` of the receipts ``user_id`` may see in ``rooms``
        written in ``(from_pos, to_pos]``; ``from_pos`` 0 (initial sync) gives every
        receipt of those rooms."""
        if from_pos <= 0:
            found = await self.store.for_rooms(rooms, to_pos)
        else:
            wanted = rooms if isinstance(rooms, set | frozenset) else set(rooms)
            found = [
                r for r in await self.store.changed_between(from_pos, to_pos) if r.room_id in wanted
            ]
        by_room: dict[str, list[Receipt]] = {}
        for r in found:
            if visible_to(r, user_id):
                by_room.setdefault(r.room_id, []).append(r)
        return {
            room_id: {"type": "m.receipt", "content": aggregate(rs)}
            for room_id, rs in by_room.items()
        }

"""``m.receipt`` EDUs: read receipts to and from other servers.

Spec: server-server-api "Receipts" and its ``m.receipt`` EDU
(``{room_id: {"m.read": {user_id: {"event_ids": [one id], "data": {"ts", "thread_id"?}}}}}``;
"the server should only update entries that are listed in the EDU");
client-server-api "Receipts" ("Private read receipts" are never sent to other servers).

Theory of operation
-------------------
*Inbound* (:meth:`ReceiptEdus.on_edu`): for each room and each ``m.read`` receipt of a
user who belongs to the sending server and is joined to the room, the receipt is
written to the local receipt store (:class:`~ranvier.ephemeral.receipts_store.ReceiptStore`,
which only moves a receipt forward, by the stream ordering of its event when this
server holds the event) and the receipts stream's listeners are told, so local
clients' ``/sync`` shows it. Other receipt types are ignored (only ``m.read`` is
federated). Rooms whose ACL denies the origin were removed by the transaction
processor first.

*Outbound*: the producer listens to the receipts stream. The listener hands the new
position to a :class:`~.worker.SerialWorker`, whose job reads the receipts written
since the last position it handled, keeps the public (``m.read``) ones of local users,
and queues one EDU per room for every other server with a joined member. Positions
commit in order (see the receipt store), so nothing is skipped.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ranvier.core.events import JsonDict
from ranvier.ephemeral.receipts import READ, ReceiptService
from ranvier.federation.edus.rooms import RoomMembers, server_of
from ranvier.federation.edus.worker import SerialWorker
from ranvier.federation.sender import FederationSender

EDU_TYPE = "m.receipt"


class ReceiptEdus:
    """Inbound handler and outbound producer of ``m.receipt`` (module docstring)."""

    def __init__(
        self, receipts: ReceiptService, members: RoomMembers, sender: FederationSender
    ) -> None:
        self.receipts = receipts
        self.members = members
        self.sender = sender
        self.worker = SerialWorker("receipt EDUs")
        self._handled = 0
        self._started = False
        self.received = 0
        """Inbound receipts stored (tests)."""

    # ---- inbound ------------------------------------------------------------------------

    async def on_edu(self, origin: str, content: JsonDict) -> None:
        """Handle one inbound ``m.receipt`` EDU from ``origin``."""
        for room_id, by_type in content.items():
            if not isinstance(by_type, dict):
                continue
            reads = by_type.get(READ)
            if not isinstance(reads, dict):
                continue
            for user_id, receipt in reads.items():
                if server_of(user_id) != origin or not isinstance(receipt, dict):
                    continue
                await self._store(room_id, user_id, receipt)

    async def _store(self, room_id: str, user_id: str, receipt: dict[str, Any]) -> None:
        event_ids, data = receipt.get("event_ids"), receipt.get("data")
        if not isinstance(event_ids, list) or not event_ids or not isinstance(data, dict):
            return
        event_id, ts = event_ids[0], data.get("ts")
        if not isinstance(event_id, str) or not isinstance(ts, int) or isinstance(ts, bool):
            return
        thread = data.get("thread_id")
        if thread is not None and (not isinstance(thread, str) or not thread):
            return
        if "\x00" in event_id or "\x00" in room_id or (thread is not None and "\x00" in thread):
            return  # names no event, room or thread (and PostgreSQL cannot store it)
        if not await self.members.is_joined(room_id, user_id):
            return
        stored = await self.receipts.rooms.events.get_by_id(event_id)
        ordering = (
            stored.stream_ordering
            if stored is not None and stored.event.room_id == room_id
            else None
        )
        clean: JsonDict = {"ts": ts}
        if thread is not None:
            clean["thread_id"] = thread
        position = await self.receipts.store.put(
            room_id, READ, user_id, thread, event_id, ordering, clean
        )
        if position is not None:
            self.received += 1
            self.receipts.listeners.notify(position, (room_id,), ())

    # ---- outbound -----------------------------------------------------------------------

    async def start(self) -> None:
        """Listen to the receipts stream from its current position."""
        if self._started:
            return
        self._started = True
        self._handled = await self.receipts.current_position()
        self.receipts.listeners.add(self._on_change)

    async def stop(self) -> None:
        """Stop the worker."""
        await self.worker.close()

    def _on_change(
        self, position: int, room_ids: Collection[str], user_ids: Collection[str]
    ) -> None:
        del user_ids
        if room_ids:  # private receipts concern their owner only: never federated
            self.worker.submit(lambda: self._send_upto(position))

    async def _send_upto(self, position: int) -> None:
        if position <= self._handled:
            return
        found = await self.receipts.store.changed_between(self._handled, position)
        self._handled = position
        by_room: dict[str, dict[str, Any]] = {}
        for r in found:
            if r.receipt_type != READ or not self.members.is_local(r.user_id):
                continue
            by_room.setdefault(r.room_id, {})[r.user_id] = {
                "event_ids": [r.event_id],
                "data": r.data,
            }
        for room_id, users in by_room.items():
            servers = await self.members.remote_servers([room_id])
            if servers:
                edu = {"edu_type": EDU_TYPE, "content": {room_id: {READ: users}}}
                await self.sender.queue_edu(servers, edu)

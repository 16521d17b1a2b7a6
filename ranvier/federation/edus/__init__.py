"""EDUs exchanged with other servers: typing, receipts, presence, device lists.

Spec: server-server-api "EDUs", "Typing Notifications", "Presence", "Receipts",
"Device Management", "End-to-End Encryption".

How the package works: each module pairs an *inbound handler* -- registered into the
transaction processor's :class:`~ranvier.federation.transactions.EduRegistry` under
its ``edu_type`` -- with, where the spec has one, an *outbound producer* that listens
to the matching ephemeral stream of :mod:`ranvier.ephemeral` and queues EDUs for the
servers in the room through the persisted
:class:`~ranvier.federation.sender.FederationSender`:

* :mod:`.typing` -- ``m.typing`` in and out (renewed while a local user types);
* :mod:`.receipts` -- ``m.receipt`` (public ``m.read`` only) in and out;
* :mod:`.presence` -- ``m.presence`` in (``enable_inbound``) and out
  (``enable_outbound``);
* :mod:`.device_lists` (+ :mod:`.device_list_store`) -- ``m.device_list_update`` and
  ``m.signing_key_update`` stored for end-to-end encryption, resynchronised with
  ``/user/devices`` when an update was missed;
* :mod:`.rooms` (membership questions) and :mod:`.worker` (the serial background
  worker that keeps stream listeners non-blocking) are shared.

``m.direct_to_device`` is handled by :mod:`ranvier.federation.to_device_edu`.
:class:`FederationEdus` builds all of them once for the composition root.
"""

from __future__ import annotations

from ranvier.db.api import Database
from ranvier.ephemeral.presence import PresenceService
from ranvier.ephemeral.receipts import ReceiptService
from ranvier.ephemeral.typing import TypingState
from ranvier.federation.edus.device_list_store import RemoteDeviceListStore
from ranvier.federation.edus.device_lists import (
    DEVICE_LIST_UPDATE,
    SIGNING_KEY_UPDATE,
    DeviceListEdus,
)
from ranvier.federation.edus.presence import PresenceEdus
from ranvier.federation.edus.receipts import ReceiptEdus
from ranvier.federation.edus.rooms import RoomMembers
from ranvier.federation.edus.typing import TypingEdus
from ranvier.federation.rooms import FederationRooms


class FederationEdus:
    """The EDU handlers and producers of one server."""

    def __init__(
        self,
        db: Database,
        rooms: FederationRooms,
        typing: TypingState,
        receipts: ReceiptService,
        presence: PresenceService,
    ) -> None:
        members = RoomMembers(rooms.remote.events, rooms.remote.server_name)
        sender = rooms.sender
        self.typing = TypingEdus(typing, members, sender)
        self.receipts = ReceiptEdus(receipts, members, sender)
        self.presence = PresenceEdus(presence, members, sender)
        self.device_lists = DeviceListEdus(RemoteDeviceListStore(db), rooms.federation.client)
        registry = rooms.edus
        registry.register_edu_handler("m.typing", self.typing.on_edu)
        registry.register_edu_handler("m.receipt", self.receipts.on_edu)
        registry.register_edu_handler("m.presence", self.presence.on_edu)
        registry.register_edu_handler(DEVICE_LIST_UPDATE, self.device_lists.on_device_list_update)
        registry.register_edu_handler(SIGNING_KEY_UPDATE, self.device_lists.on_signing_key_update)

    async def start(self) -> None:
        """Start the outbound producers."""
        self.typing.start()
        await self.receipts.start()
        self.presence.start()

    async def stop(self) -> None:
        """Stop the producers and background work."""
        await self.typing.stop()
        await self.receipts.stop()
        await self.presence.stop()
        await self.device_lists.stop()

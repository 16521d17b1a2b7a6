"""Inbound ``m.direct_to_device`` EDUs: send-to-device messages from users of other
servers (server-server-api "Send-to-device messaging", definitions/event-schemas
m.direct_to_device).

The EDU carries ``sender``, ``type``, ``message_id`` and ``messages``
(``{user_id: {device_id or "*": content}}``). The sender must belong to the origin
server. Messages for local users are stored in the to-device inbox like local ones
(:meth:`ranvier.sync.to_device.ToDeviceStore.send`), with the message id as the
transaction id of the sender (so a repeated EDU stores nothing twice).
"""

from __future__ import annotations

from collections.abc import Callable

from ranvier.core.events import JsonDict
from ranvier.core.ids import InvalidIdentifier, server_name_of
from ranvier.federation.transactions import EduHandler
from ranvier.sync.to_device import ToDeviceStore

FEDERATION_DEVICE = "*federation*"
"""The pseudo device id under which remote senders' message ids are remembered."""


def to_device_edu_handler(store: ToDeviceStore, is_local: Callable[[str], bool]) -> EduHandler:
    """The ``m.direct_to_device`` handler storing into ``store``."""

    async def handle(origin: str, content: JsonDict) -> None:
        sender, event_type = content.get("sender"), content.get("type")
        message_id, messages = content.get("message_id"), content.get("messages")
        if not (
            isinstance(sender, str)
            and isinstance(event_type, str)
            and isinstance(message_id, str)
            and isinstance(messages, dict)
        ):
            return
        if "\x00" in event_type or "\x00" in message_id:
            return  # PostgreSQL's TEXT cannot store U+0000: dropped on both databases
        try:
            if server_name_of(sender) != origin:
                return
        except (InvalidIdentifier, ValueError):
            return
        local = {
            user_id: devices
            for user_id, devices in messages.items()
            if isinstance(user_id, str)
            and "\x00" not in user_id  # no user id holds it
            and isinstance(devices, dict)
            and is_local(user_id)
        }
        if local:
            await store.send(sender, FEDERATION_DEVICE, message_id, event_type, local, is_local)

    return handle

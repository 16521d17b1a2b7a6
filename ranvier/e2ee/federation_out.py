"""What end-to-end encryption sends to other servers: ``m.device_list_update`` and
``m.signing_key_update`` EDUs for local users' changes, and ``m.direct_to_device`` EDUs
for send-to-device messages to remote users.

Spec: server-server-api "Device Management" (``m.device_list_update``: ``user_id``,
``device_id``, ``stream_id``, ``prev_id`` -- "the stream_ids of any prior
m.device_list_update EDUs sent for this user which have not been referred to already
in an EDU's prev_id field" --, ``deleted``, ``keys``; "sent to every server that shares
a room with the user"), "End-to-End Encryption" (``m.signing_key_update``:
``user_id``, ``master_key``, ``self_signing_key``), "Send-to-device messaging"
(``m.direct_to_device``: ``sender``, ``type``, ``message_id``, ``messages``).

Theory of operation
-------------------
:class:`DeviceListSender` listens to the device list stream. For each change of a
local user it finds the other servers with a joined member in a room the user is
joined to and queues, through the persisted
:class:`~ranvier.federation.sender.FederationSender`, one ``m.device_list_update`` per
changed device (``stream_id`` the change's position, ``prev_id`` the user's change
before it; the device's keys as ``/keys/query`` shows them to servers, or
``deleted``) or, for a cross-signing change, one ``m.signing_key_update``. This is
done before the change's request is answered (as Synapse writes its outbound pokes
with the change): a client that changed its keys can count on the EDUs being on
their way, and the persisted outbox keeps them across a restart. A failure to queue
is logged, not given to the client.
Display names are not sent (they are not shared over federation).

:class:`ToDeviceSender` groups the remote recipients of a send-to-device request by
server and queues one ``m.direct_to_device`` EDU per server; the message id is made of
the sending device and its transaction id, so a repeated EDU is stored once by the
receiver.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ranvier.core.events import JsonDict
from ranvier.e2ee.device_list_stream import DeviceListStream, viewer_of
from ranvier.e2ee.keys import E2eKeys
from ranvier.e2ee.remote import server_of
from ranvier.federation.sender import FederationSender

logger = logging.getLogger(__name__)

DEVICE_LIST_UPDATE = "m.device_list_update"
SIGNING_KEY_UPDATE = "m.signing_key_update"
DIRECT_TO_DEVICE = "m.direct_to_device"

RemoteServers = Callable[[list[str]], Awaitable[set[str]]]
"""``await servers(room_ids)``: the other servers with a joined member in those rooms."""


class DeviceListSender:
    """Outbound device list and signing key EDUs (module docstring)."""

    def __init__(
        self,
        stream: DeviceListStream,
        keys: E2eKeys,
        sender: FederationSender,
        remote_servers: RemoteServers,
        server_name: str,
    ) -> None:
        self.stream = stream
        self.keys = keys
        self.sender = sender
        self.remote_servers = remote_servers
        self.server_name = server_name
        self.sent = 0
        """EDUs queued (tests)."""
        stream.listeners.append(self._on_change)

    async def _on_change(self, pairs: list[tuple[str, str]], position: int) -> None:
        local = [
            (u, d) for u, d in pairs if server_of(u) == self.server_name and viewer_of(d) is None
        ]
        if local:
            try:
                await self._send(local, position)
            except Exception:
                logger.exception("queueing device list EDUs for %s failed", local)

    async def _send(self, pairs: list[tuple[str, str]], position: int) -> None:
        by_user: dict[str, list[str]] = {}
        for user_id, device_id in pairs:
            by_user.setdefault(user_id, []).append(device_id)
        for user_id, device_ids in by_user.items():
            servers = await self.remote_servers(await self.stream.joined_rooms(user_id))
            if not servers:
                continue
            for edu in await self.edus_for(user_id, device_ids, position):
                await self.sender.queue_edu(servers, edu)
                self.sent += 1

    async def edus_for(self, user_id: str, device_ids: list[str], position: int) -> list[JsonDict]:
        """The EDUs telling of ``user_id``'s change at ``position``."""
        out: list[JsonDict] = []
        devices = [d for d in device_ids if d]
        if devices:
            prev = await self.stream.previous_id(user_id, position)
            current = await self.keys.local_device_keys(user_id, [], with_names=False)
            for device_id in devices:
                content: JsonDict = {
                    "user_id": user_id,
                    "device_id": device_id,
                    "stream_id": position,
                    "prev_id": [] if prev is None else [prev],
                    "deleted": device_id not in current
                    and await self.keys.devices.get(user_id, device_id) is None,
                }
                keys = current.get(device_id)
                if keys is not None:
                    content["keys"] = {k: v for k, v in keys.items() if k != "unsigned"}
                out.append({"edu_type": DEVICE_LIST_UPDATE, "content": content})
        if "" in device_ids:
            cross = await self.keys.local_cross_signing(user_id, None)
            content = {"user_id": user_id}
            if "master" in cross:
                content["master_key"] = cross["master"]
            if "self_signing" in cross:
                content["self_signing_key"] = cross["self_signing"]
            if len(content) > 1:
                out.append({"edu_type": SIGNING_KEY_UPDATE, "content": content})
        return out

    async def stop(self) -> None:
        """Nothing runs in the background (kept for the composition root)."""


class ToDeviceSender:
    """Outbound ``m.direct_to_device`` EDUs (module docstring)."""

    def __init__(self, sender: FederationSender, server_name: str) -> None:
        self.sender = sender
        self.server_name = server_name

    async def send(
        self,
        sender: str,
        sender_device: str,
        txn_id: str,
        event_type: str,
        messages: Mapping[str, Mapping[str, Any]],
    ) -> int:
        """Queue the remote part of ``messages``; returns how many servers get an EDU."""
        by_server: dict[str, dict[str, Any]] = {}
        for user_id, by_device in messages.items():
            server = server_of(user_id)
            if server is None or server == self.server_name:
                continue
            by_server.setdefault(server, {})[user_id] = by_device
        for server, part in sorted(by_server.items()):
            edu = {
                "edu_type": DIRECT_TO_DEVICE,
                "content": {
                    "sender": sender,
                    "type": event_type,
                    "message_id": f"{sender_device}/{txn_id}",
                    "messages": part,
                },
            }
            await self.sender.queue_edu([server], edu)
        return len(by_server)

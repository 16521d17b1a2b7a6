"""``m.presence`` EDUs: presence to and from other servers.

Spec: server-server-api "Presence" and its ``m.presence`` EDU (``{"push": [{user_id,
presence, last_active_ago, currently_active?, status_msg?}]}``; "Servers should only
send presence updates for users that the receiving server would be interested in,
such as the receiving server sharing a room with a given user").

Theory of operation
-------------------
*Inbound* (:meth:`PresenceEdus.on_edu`): each pushed update of a user who belongs to
the sending server goes to :meth:`~ranvier.ephemeral.presence.PresenceService.on_remote_presence`,
which drops it unless ``global.presence.enable_inbound`` (and stores it, waking the
syncs of users sharing a room, when it is on).

*Outbound*: with ``global.presence.enable_outbound``, the producer listens to the
presence stream; a visible change of a local user (the stream tells the rooms the user
is joined to) is queued by a :class:`~.worker.SerialWorker` as one ``m.presence`` EDU
for every other server with a joined member in those rooms. Mere activity of an
already active user moves no position and sends nothing, as the spec allows while
``currently_active`` is true.

*Joins* (:meth:`PresenceEdus.on_room_event`, on the room output bus): a join changes no
one's presence, yet the servers now sharing a room are newly "interested" in each
other's users. When a local user joins, their presence goes to every other server in
the room; when a remote user joins and is the first of their server there, the
presence of every local member goes to that server. So both sides of a new federated
chat see each other's presence at once, not only after the next change.
"""

from __future__ import annotations

from collections.abc import Collection

from ranvier.core.events import JsonDict
from ranvier.ephemeral.presence import PresenceService, presence_content
from ranvier.federation.edus.rooms import RoomMembers, server_of
from ranvier.federation.edus.worker import SerialWorker
from ranvier.federation.sender import FederationSender
from ranvier.rooms.outputs import RoomEventPersisted

EDU_TYPE = "m.presence"


class PresenceEdus:
    """Inbound handler and outbound producer of ``m.presence`` (module docstring)."""

    def __init__(
        self, presence: PresenceService, members: RoomMembers, sender: FederationSender
    ) -> None:
        self.presence = presence
        self.members = members
        self.sender = sender
        self.worker = SerialWorker("presence EDUs")
        self._started = False
        self.received = 0
        """Inbound updates accepted (tests)."""

    async def on_edu(self, origin: str, content: JsonDict) -> None:
        """Handle one inbound ``m.presence`` EDU from ``origin``."""
        push = content.get("push")
        if not isinstance(push, list):
            return
        for update in push:
            if not isinstance(update, dict):
                continue
            user_id = update.get("user_id")
            if not isinstance(user_id, str) or server_of(user_id) != origin:
                continue
            if await self.presence.on_remote_presence(user_id, update):
                self.received += 1

    def start(self) -> None:
        """Listen to the presence stream (updates go out only while the presence
        service's ``outbound`` flag, ``global.presence.enable_outbound``, is on)."""
        if self._started:
            return
        self._started = True
        self.presence.listeners.add(self._on_change)

    async def stop(self) -> None:
        """Stop the worker."""
        await self.worker.close()

    def _on_change(
        self, position: int, room_ids: Collection[str], user_ids: Collection[str]
    ) -> None:
        del position
        if not self.presence.outbound or not self.presence.enabled:
            return
        local = [u for u in user_ids if self.members.is_local(u)]
        if local and room_ids:
            rooms = list(room_ids)
            self.worker.submit(lambda: self._send(local, rooms))

    async def on_room_event(self, msg: RoomEventPersisted) -> None:
        """Bus handler: share presence with the servers a join brings together."""
        if (
            msg.membership != "join"
            or msg.state_key is None
            or not self.presence.outbound
            or not self.presence.enabled
        ):
            return
        joiner, room_id = msg.state_key, msg.room_id
        if self.members.is_local(joiner):
            self.worker.submit(lambda: self._send([joiner], [room_id]))
            return
        server = server_of(joiner)
        if server is None:
            return
        self.worker.submit(lambda: self._send_members(room_id, joiner, server))

    async def _send_members(self, room_id: str, joiner: str, server: str) -> None:
        """The local members' presence to ``server``, if ``joiner`` is its first user
        joined to the room."""
        room = await self.members.events.get_room(room_id)
        if room is None:
            return
        local: list[str] = []
        for user_id, membership, _ in await self.members.events.members(room.nid):
            if membership != "join":
                continue
            if user_id != joiner and server_of(user_id) == server:
                return  # the server was already in the room and has their presence
            if self.members.is_local(user_id):
                local.append(user_id)
        if local:
            await self._push(local, {server})

    async def _send(self, user_ids: list[str], room_ids: list[str]) -> None:
        servers = await self.members.remote_servers(room_ids)
        if servers:
            await self._push(user_ids, servers)

    async def _push(self, user_ids: list[str], servers: set[str]) -> None:
        now = self.presence.clock()
        push = []
        for user_id in user_ids:
            item = presence_content(await self.presence.current(user_id), now)
            item["user_id"] = user_id
            item.setdefault("last_active_ago", 0)
            push.append(item)
        await self.sender.queue_edu(servers, {"edu_type": EDU_TYPE, "content": {"push": push}})

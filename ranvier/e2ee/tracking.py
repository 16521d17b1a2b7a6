"""Which remote users' device lists this server keeps up to date.

Spec: server-server-api "Device Management": a server sends ``m.device_list_update``
EDUs to "every server that shares a room with the user". So this server hears of a
remote user's changes only while one of its users shares a room with them; when that
stops (the remote user leaves, bans or kicks end the last shared room, or the last
local member leaves it) the copy it keeps goes stale. :class:`RemoteListTracker`
watches the member events of the room output and then marks the copy stale
(:meth:`~ranvier.federation.edus.device_list_store.RemoteDeviceListStore.mark_stale`),
so that a later key query or update fetches the whole list again -- the case of a
server that leaves a room and rejoins it after the user added a device.
"""

from __future__ import annotations

from ranvier.e2ee.device_list_stream import DeviceListStream
from ranvier.e2ee.remote import server_of
from ranvier.federation.edus.device_list_store import RemoteDeviceListStore
from ranvier.rooms.outputs import RoomEventPersisted

_STAYING = ("join", "invite", "knock")


class RemoteListTracker:
    """Marks remote device lists stale when no local user shares a room any more."""

    def __init__(
        self, stream: DeviceListStream, remote: RemoteDeviceListStore, server_name: str
    ) -> None:
        self.stream = stream
        self.remote = remote
        self.server_name = server_name
        self.marked = 0
        """Lists marked stale (tests)."""

    async def on_room_event(self, msg: RoomEventPersisted) -> None:
        """A bus handler of :data:`~ranvier.rooms.outputs.ROOM_EVENTS`."""
        if msg.event_type != "m.room.member" or msg.state_key is None:
            return
        if msg.membership in _STAYING:
            return
        if server_of(msg.state_key) == self.server_name:
            members = await self.stream.joined_members(msg.room_id)
            candidates = {m for m in members if server_of(m) != self.server_name}
        else:
            candidates = {msg.state_key}
        for user_id in sorted(candidates):
            if not await self.stream.shares_room_with_server(user_id, self.server_name):
                await self.remote.mark_stale(user_id)
                self.marked += 1

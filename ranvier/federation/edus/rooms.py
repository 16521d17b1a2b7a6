"""Who is in a room, as EDU handling needs it: the servers to send a room's typing and
receipts to, and whether a remote user may speak for a room.

Spec: server-server-api "Typing Notifications" ("Receiving servers should verify that
the user is in the room, and is a user belonging to the sending server"), "Receipts",
"Presence" ("servers should only send presence updates for users that the receiving
server would be interested in, such as the receiving server sharing a room").

Reads the rooms component's current memberships (``room_memberships``, through
:class:`~ranvier.rooms.event_store.EventStore`), never the DAG.
"""

from __future__ import annotations

from collections.abc import Iterable

from ranvier.core.ids import InvalidIdentifier, server_name_of
from ranvier.rooms.event_store import EventStore


def server_of(user_id: object) -> str | None:
    """The server part of a user id, or None when it is not a valid user id."""
    if not isinstance(user_id, str):
        return None
    try:
        return server_name_of(user_id)
    except (InvalidIdentifier, ValueError):
        return None


class RoomMembers:
    """Membership questions of EDU handlers and producers."""

    def __init__(self, events: EventStore, server_name: str) -> None:
        self.events = events
        self.server_name = server_name

    def is_local(self, user_id: str) -> bool:
        """Whether ``user_id`` belongs to this server."""
        return server_of(user_id) == self.server_name

    async def is_joined(self, room_id: str, user_id: str) -> bool:
        """Whether ``user_id``'s current membership of ``room_id`` is ``join``."""
        room = await self.events.get_room(room_id)
        if room is None:
            return False
        return await self.events.membership_of(room.nid, user_id) == "join"

    async def remote_servers(self, room_ids: Iterable[str]) -> set[str]:
        """The other servers with a joined member in any of ``room_ids``."""
        servers: set[str] = set()
        for room_id in set(room_ids):
            room = await self.events.get_room(room_id)
            if room is None:
                continue
            for user_id, membership, _ in await self.events.members(room.nid):
                if membership == "join":
                    server = server_of(user_id)
                    if server is not None:
                        servers.add(server)
        servers.discard(self.server_name)
        return servers

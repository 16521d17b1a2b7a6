"""Memberships of local users in rooms this server is not in: remote invites, knocks
and the leaves that reject or rescind them.

Spec: server-server-api "Inviting to a room", "Knocking upon a room", "Leaving Rooms
(Rejecting Invites)"; client-server-api "Syncing" (``rooms.invite``, ``rooms.knock``,
``rooms.leave``) and "Stripped state".

Theory of operation
-------------------
A local user can be invited to, knock on, or reject an invite to a room whose DAG this
server does not hold. The membership event is then all there is: it is stored as an
**outlier** (:meth:`~ranvier.rooms.remote_store.RemoteStore.persist_outlier`: no state,
not in any timeline) of a ``rooms`` row made for the room (with the room version the
other server named), and the room's membership index gets the user's membership at the
outlier's stream position, so ``/sync`` lists the room under ``invite``, ``knock`` or
``leave``. The stripped state that came with an invite or knock is kept
(:class:`~ranvier.rooms.stripped_state.StrippedStateStore`) for the ``invite_state`` /
``knock_state`` sync shows. The event is published on the room bus, which wakes the
user's long-polling ``/sync``.

Should the server be (or become) joined to the room, none of this applies: the event
arrives in the DAG, and the outlier row, if any, is turned into a timeline event there.
Every write runs in the room's queue, like other writes to the room.
"""

from __future__ import annotations

from collections.abc import Sequence

from ranvier.bus import Bus
from ranvier.core.events import Event, JsonDict
from ranvier.core.room_versions import RoomVersion
from ranvier.rooms.event_store import StoredEvent, set_membership
from ranvier.rooms.outputs import ROOM_EVENTS, RoomEventPersisted
from ranvier.rooms.queue import RoomQueues
from ranvier.rooms.remote_store import RemoteStore
from ranvier.rooms.storage import RoomStorage
from ranvier.rooms.stripped_state import StrippedStateStore


def _creator(stripped_state: Sequence[JsonDict] | None, fallback: str) -> str:
    for item in stripped_state or ():
        if item.get("type") == "m.room.create" and isinstance(item.get("sender"), str):
            return str(item["sender"])
    return fallback


class OutOfRoomMemberships:
    """Stores memberships of local users in rooms this server is not in."""

    def __init__(self, storage: RoomStorage, bus: Bus, queues: RoomQueues) -> None:
        self.storage = storage
        self.events = storage.events
        self.bus = bus
        self.queues = queues
        self.store = RemoteStore(storage)
        self.stripped = StrippedStateStore(storage.db)

    async def record(
        self,
        rv: RoomVersion,
        event: Event,
        stripped_state: Sequence[JsonDict] | None = None,
    ) -> StoredEvent:
        """Store ``event`` (an ``m.room.member`` event about a local user) as an outlier
        membership, with the stripped state shown with it; publish it."""
        user_id, membership = event.state_key, event.membership
        assert event.type == "m.room.member" and user_id is not None and membership is not None

        async def job() -> StoredEvent:
            room = await self.store.create_room(
                event.room_id,
                rv,
                _creator(stripped_state, event.sender),
                event.origin_server_ts,
            )
            stored = await self.store.persist_outlier(room, event)
            await set_membership(
                self.storage.db,
                room.nid,
                user_id,
                membership,
                stored.nid,
                stored.stream_ordering,
            )
            if stripped_state is not None:
                await self.stripped.save(stored.nid, stripped_state)
            await self.bus.publish(
                ROOM_EVENTS,
                RoomEventPersisted.of(event, stored.stream_ordering),
            )
            return stored

        return await self.queues.run(event.room_id, job)

    async def membership_event(self, room_id: str, user_id: str) -> StoredEvent | None:
        """The event of ``user_id``'s current membership in ``room_id`` (from the
        membership index), or None."""
        room = await self.events.get_room(room_id)
        if room is None:
            return None
        row = await self.storage.db.fetchone(
            "SELECT event_nid FROM room_memberships WHERE room_nid = $1 AND user_id = $2",
            room.nid,
            user_id,
        )
        if row is None:
            return None
        found = await self.events.get_by_nids([int(row[0])])
        return found.get(int(row[0]))

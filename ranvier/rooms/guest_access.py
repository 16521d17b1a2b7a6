"""Guest access to rooms (client-server-api "Guest Access", "Server behaviour").

The spec: "Servers MUST only allow guest users to join rooms if the
``m.room.guest_access`` state event is present on the room, and has the
``guest_access`` value ``can_join``. If the ``m.room.guest_access`` event is changed to
stop this from being the case, the server MUST set those users' ``m.room.member`` state
to ``leave``."

* :meth:`GuestAccess.check_join` is called by the join endpoints for guest requesters
  before anything is sent: a room this server knows (by id, or by a local alias) without
  ``can_join`` is 403 ``M_FORBIDDEN``. Rooms whose state this server does not hold
  (not joined; known from an invite's stripped state at most) are joined over
  federation first, since only the join brings their state; then
  :meth:`GuestAccess.check_after_join` makes the guest leave again at once and answers
  403 if the state does not allow guests.
* :meth:`GuestAccess.on_room_event` listens on the room output bus: when a room's
  ``m.room.guest_access`` becomes anything but ``can_join``, each local guest joined to
  the room leaves it (their own ``leave``, which the auth rules always allow). The
  leaves run in a task of their own, since the handler is called while the room's
  queue may still be busy with the event that triggered it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ranvier.core.ids import InvalidIdentifier, parse_room_alias
from ranvier.http.types import MatrixError
from ranvier.rooms.outputs import RoomEventPersisted
from ranvier.rooms.service import RoomService

log = logging.getLogger(__name__)

IsGuest = Callable[[str], Awaitable[bool]]
"""``await is_guest(user_id)``: whether a local user is a guest account."""

Leave = Callable[[str, str], Awaitable[object]]
"""``await leave(room_id, user_id)``: the user leaves the room."""


class GuestAccess:
    """Enforces the guest access rules for local guests."""

    def __init__(self, rooms: RoomService, is_guest: IsGuest, leave: Leave) -> None:
        self.rooms = rooms
        self.is_guest = is_guest
        self.leave = leave
        self._tasks: set[asyncio.Task[None]] = set()

    async def _allows_guests(self, room_nid: int) -> bool | None:
        """Whether the room's current state lets guests join; None when this server
        does not hold the room's state (known only from an invite or a knock), or holds
        it only as it was when its last user left (no longer kept up to date)."""
        suffix = ":" + self.rooms.server_name
        members = await self.rooms.events.members(room_nid)
        if not any(m == "join" and u.endswith(suffix) for u, m, _ in members):
            return None
        current = await self.rooms.storage.current_state(room_nid)
        found = await self.rooms.storage.state_events(
            current, [("m.room.create", ""), ("m.room.guest_access", "")]
        )
        if ("m.room.create", "") not in found:
            return None
        ev = found.get(("m.room.guest_access", ""))
        return ev is not None and ev.content.get("guest_access") == "can_join"

    async def check_join(self, room_id_or_alias: str) -> None:
        """403 ``M_FORBIDDEN`` when a guest may not join the (locally known) room."""
        room_id: str | None = room_id_or_alias
        if room_id_or_alias.startswith("#"):
            try:
                parse_room_alias(room_id_or_alias)
            except InvalidIdentifier:
                return  # the join itself answers the malformed alias
            room_id = await self.rooms.aliases.resolve(room_id_or_alias)
        if room_id is None:
            return
        room = await self.rooms.events.get_room(room_id)
        if room is not None and await self._allows_guests(room.nid) is False:
            raise MatrixError(403, "M_FORBIDDEN", "Guest access is not allowed in this room")

    async def held(self, room_id_or_alias: str) -> bool:
        """Whether this server holds the state of the room (an alias this server
        cannot resolve names a room it does not hold)."""
        room_id: str | None = room_id_or_alias
        if room_id_or_alias.startswith("#"):
            try:
                room_id = await self.rooms.aliases.resolve(room_id_or_alias)
            except (InvalidIdentifier, MatrixError):
                room_id = None
        room = None if room_id is None else await self.rooms.events.get_room(room_id)
        return room is not None and await self._allows_guests(room.nid) is not None

    async def check_after_join(self, room_id: str, user_id: str) -> None:
        """After a guest's federated join: leave and 403 unless guests may join."""
        room = await self.rooms.events.get_room(room_id)
        if room is None or await self._allows_guests(room.nid) is not False:
            return
        await self.leave(room_id, user_id)
        raise MatrixError(403, "M_FORBIDDEN", "Guest access is not allowed in this room")

    async def on_room_event(self, msg: RoomEventPersisted) -> None:
        """Bus handler: a revoked ``m.room.guest_access`` makes local guests leave."""
        if msg.event_type != "m.room.guest_access" or msg.state_key != "":
            return
        content = msg.pdu.get("content")
        if isinstance(content, dict) and content.get("guest_access") == "can_join":
            return
        task = asyncio.create_task(self._evict_guests(msg.room_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _evict_guests(self, room_id: str) -> None:
        room = await self.rooms.events.get_room(room_id)
        if room is None or await self._allows_guests(room.nid) is not False:
            return
        for user_id, membership, _ in await self.rooms.events.members(room.nid):
            if membership != "join" or not self.rooms.is_local(user_id):
                continue
            try:
                if await self.is_guest(user_id):
                    await self.leave(room_id, user_id)
            except MatrixError as exc:
                log.warning("guest %s could not be removed from %s: %s", user_id, room_id, exc)

    async def drain(self) -> None:
        """Wait for the pending evictions (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

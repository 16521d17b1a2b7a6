"""What this server carries over when one of its users joins an upgraded room.

Spec: client-server-api "Room Upgrades", server behaviour: "Moves any local aliases to
the new room", and "When a user joins the new room, the server should automatically
transfer/replicate some of the user's personalized settings such as notifications,
tags, etc."; the ``m.direct`` account data ("Direct Messaging") and ``m.tag`` room
account data ("Room Tagging").

Theory of operation
-------------------
:meth:`UpgradeFollower.on_room_event` listens on the room output bus for joins of
local users. When the joined room's ``m.room.create`` names a ``predecessor`` and the
predecessor, as this server knows it, carries an ``m.room.tombstone`` whose
``replacement_room`` is the joined room (so a room cannot claim another's aliases
just by naming it), a task of its own (the room's queue may still be busy) carries
over:

* the server's aliases of the old room, which now resolve to the new one, and its
  room directory listing (the new room listed, the old one not), as the upgrading
  server does in :class:`ranvier.rooms.upgrade.UpgradeService`; this is how a server
  that did not perform the upgrade (its user joined the new room over federation)
  moves its own aliases and listing. Both steps do nothing the second time;
* the joining user's ``m.direct``: each list naming the old room also names the new;
* the joining user's ``m.tag`` of the old room, when the new room has none;
* whatever :attr:`UpgradeFollower.user_hooks` carry (the user's push rules).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ranvier.rooms.aliases import AliasStore
from ranvier.rooms.outputs import RoomEventPersisted
from ranvier.rooms.service import RoomService
from ranvier.users.account_data import AccountDataStore

log = logging.getLogger(__name__)

DIRECT = "m.direct"
TAG = "m.tag"


class UpgradeFollower:
    """Carries aliases, listing, ``m.direct`` and tags over to replacement rooms."""

    def __init__(
        self, rooms: RoomService, aliases: AliasStore, account_data: AccountDataStore
    ) -> None:
        self.rooms = rooms
        self.aliases = aliases
        self.account_data = account_data
        self._tasks: set[asyncio.Task[None]] = set()
        self.user_hooks: list[Callable[[str, str, str], Awaitable[object]]] = []
        """``await hook(user_id, old_room_id, new_room_id)`` for other components'
        per-user settings (push copies the user's rules for the old room)."""

    async def on_room_event(self, msg: RoomEventPersisted) -> None:
        """Bus handler: a local user's join starts :meth:`follow`."""
        if (
            msg.event_type != "m.room.member"
            or msg.membership != "join"
            or msg.state_key is None
            or not self.rooms.is_local(msg.state_key)
        ):
            return
        task = asyncio.create_task(self.follow(msg.room_id, msg.state_key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def predecessor_of(self, room_id: str) -> str | None:
        """The room that ``room_id`` replaces, when that room's tombstone agrees."""
        storage = self.rooms.storage
        room = await self.rooms.events.get_room(room_id)
        if room is None:
            return None
        create = await storage.state_event(
            await storage.current_state(room.nid), "m.room.create", ""
        )
        predecessor = create.content.get("predecessor") if create is not None else None
        old_id = predecessor.get("room_id") if isinstance(predecessor, dict) else None
        if not isinstance(old_id, str):
            return None
        old = await self.rooms.events.get_room(old_id)
        if old is None:
            return None
        tombstone = await storage.state_event(
            await storage.current_state(old.nid), "m.room.tombstone", ""
        )
        if tombstone is None or tombstone.content.get("replacement_room") != room_id:
            return None
        return old_id

    async def follow(self, room_id: str, user_id: str) -> None:
        """Carry everything over for ``user_id`` having joined ``room_id``."""
        try:
            old_id = await self.predecessor_of(room_id)
            if old_id is None:
                return
            await self._move_server_state(old_id, room_id)
            await self._copy_direct(user_id, old_id, room_id)
            await self._copy_tags(user_id, old_id, room_id)
            for hook in self.user_hooks:
                await hook(user_id, old_id, room_id)
        except Exception:  # a background task: log, do not lose the error
            log.exception("carrying %s over to upgraded room %s failed", user_id, room_id)

    async def _move_server_state(self, old_id: str, new_id: str) -> None:
        await self.aliases.move(old_id, new_id)
        events = self.rooms.events
        old, new = await events.get_room(old_id), await events.get_room(new_id)
        if old is not None and new is not None and await events.is_published(old.nid):
            await events.set_published(new.nid, True)
            await events.set_published(old.nid, False)

    async def _copy_direct(self, user_id: str, old_id: str, new_id: str) -> None:
        direct = await self.account_data.get(user_id, None, DIRECT)
        if not isinstance(direct, dict):
            return
        changed: dict[str, Any] = {}
        for other, rooms in direct.items():
            if isinstance(rooms, list) and old_id in rooms and new_id not in rooms:
                changed[other] = [*rooms, new_id]
        if changed:
            await self.account_data.put(user_id, None, DIRECT, {**direct, **changed})

    async def _copy_tags(self, user_id: str, old_id: str, new_id: str) -> None:
        tags = await self.account_data.get(user_id, old_id, TAG)
        if tags and not await self.account_data.get(user_id, new_id, TAG):
            await self.account_data.put(user_id, new_id, TAG, tags)

    async def drain(self) -> None:
        """Wait for the pending tasks (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

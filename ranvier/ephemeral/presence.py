"""Presence: each user's online/unavailable/offline state, status message and activity.

Spec: client-server-api "Presence" (presence.yaml; the ``m.presence`` event; "Last
active ago"; "Idle timeout") and ``/sync``'s ``set_presence``.

Theory of operation
-------------------
The presence of a local user who is not offline is held in memory (``_local``) and is
the truth for reads; every *visible* change (state, status message,
``currently_active``) is also written to the store, which gives it a position of the
presence stream, and tells the listeners ``(position, rooms of the user, [user])`` so
the long-polls of everyone sharing a room wake. Mere activity of a user who is already
``online`` and ``currently_active`` only updates ``last_active_ts`` in memory: the spec
lets a server stop sending last-active updates while ``currently_active`` is true, and
every read computes ``last_active_ago`` from the fresh timestamp.

Transitions (the timer values follow the reference implementation's defaults):

* ``PUT /presence/{userId}/status`` sets state and status message (an absent
  ``status_msg`` clears it); ``online`` counts as activity.
* Activity (:meth:`PresenceService.bump_active`: the user sent an event other than a
  membership change, a receipt...)
  makes the user ``online`` and ``currently_active``.
* A ``/sync`` (:meth:`PresenceService.user_syncing`) with ``set_presence`` ``online``
  or ``unavailable`` brings an *offline* user to that state ("online: the default state
  when the user is connected to an event stream"); ``offline`` leaves presence alone.
  It does not count as activity, so an open client still goes idle.
* A sweeper every ``sweep_interval_s``: ``currently_active`` ends ``active_ms`` after
  the last activity; ``online`` becomes ``unavailable`` after ``idle_ms`` without
  activity; a user neither syncing now nor within ``sync_timeout_ms`` (nor active)
  becomes ``offline``. The status message is kept.

Who sees what: a user sees their own presence and that of users sharing a joined room
(``GET`` of anyone else is 403 ``M_FORBIDDEN``); ``changes_since`` returns the
``m.presence`` events of those users changed in a range.

Configuration: ``global.presence.enable_inbound`` / ``enable_outbound`` only govern
presence exchanged with other servers (remote updates are dropped unless inbound is on:
:meth:`PresenceService.on_remote_presence`; ``outbound`` is for the federation sender).
Local presence works without them. The ranvier-side ``enabled`` switch turns presence
off altogether: ``PUT`` is accepted and ignored, ``GET`` answers ``offline``, ``/sync``
carries no presence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import replace
from typing import Any

from ranvier.core.events import JsonDict
from ranvier.ephemeral.locks import KeyedLocks
from ranvier.ephemeral.presence_store import (
    OFFLINE,
    ONLINE,
    STATES,
    UNAVAILABLE,
    PresenceStore,
    UserPresence,
)
from ranvier.ephemeral.stream import Listeners
from ranvier.http.types import MatrixError
from ranvier.rooms.outputs import RoomEventPersisted
from ranvier.rooms.service import RoomService

logger = logging.getLogger(__name__)

IDLE_MS = 5 * 60 * 1000
SYNC_TIMEOUT_MS = 30 * 1000
ACTIVE_MS = 60 * 1000
SWEEP_INTERVAL_S = 5.0


def _now_ms() -> int:
    return int(time.time() * 1000)


def presence_content(p: UserPresence, now_ms: int) -> JsonDict:
    """The ``m.presence`` content / ``GET .../status`` body of ``p`` at ``now_ms``."""
    content: JsonDict = {"presence": p.state}
    if p.last_active_ts:
        content["last_active_ago"] = max(0, now_ms - p.last_active_ts)
    if p.status_msg is not None:
        content["status_msg"] = p.status_msg
    if p.state == ONLINE:
        content["currently_active"] = p.currently_active
    return content


class PresenceService:
    """Presence of local users, remote updates, and the presence sync stream."""

    def __init__(
        self,
        store: PresenceStore,
        rooms: RoomService,
        server_name: str,
        *,
        enabled: bool = True,
        inbound: bool = False,
        outbound: bool = False,
        idle_ms: int = IDLE_MS,
        sync_timeout_ms: int = SYNC_TIMEOUT_MS,
        active_ms: int = ACTIVE_MS,
        sweep_interval_s: float = SWEEP_INTERVAL_S,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self.store = store
        self.rooms = rooms
        self.server_name = server_name
        self.enabled = enabled
        self.inbound = inbound
        self.outbound = outbound
        self.idle_ms = idle_ms
        self.sync_timeout_ms = sync_timeout_ms
        self.active_ms = active_ms
        self.sweep_interval_s = sweep_interval_s
        self.clock = clock
        self.listeners = Listeners()
        self._local: dict[str, UserPresence] = {}
        self._syncing: dict[str, int] = {}
        self._locks = KeyedLocks()
        self._sweeper: asyncio.Task[None] | None = None
        self._started = False

    # ---- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Load the users who are not offline and start the sweeper."""
        if not self.enabled or self._started:
            return
        self._started = True
        for p in await self.store.not_offline(self.server_name):
            self._local[p.user_id] = p
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def stop(self) -> None:
        """Stop the sweeper."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    # ---- reads ----------------------------------------------------------------------

    def is_local(self, user_id: str) -> bool:
        """Whether ``user_id`` belongs to this server."""
        return user_id.endswith(f":{self.server_name}")

    async def current(self, user_id: str) -> UserPresence:
        """The presence of ``user_id`` now (offline when never set)."""
        cached = self._local.get(user_id)
        if cached is not None:
            return cached
        stored = await self.store.get(user_id)
        return stored if stored is not None else UserPresence(user_id)

    async def get_status(self, observer: str, target: str) -> JsonDict:
        """``GET /presence/{userId}/status``: 403 ``M_FORBIDDEN`` unless ``observer`` is
        ``target`` or shares a room with them."""
        if observer != target and not await self.store.share_a_room(observer, target):
            raise MatrixError(403, "M_FORBIDDEN", "You are not allowed to see their presence")
        if not self.enabled:
            return {"presence": OFFLINE}
        return presence_content(await self.current(target), self.clock())

    async def current_position(self) -> int:
        """The position of the latest presence change written."""
        return await self.store.current_position()

    async def changes_since(
        self, user_id: str, rooms: Collection[str], from_pos: int, to_pos: int
    ) -> list[JsonDict]:
        """The ``m.presence`` events of ``user_id`` and the users sharing a joined room
        with them, changed in ``(from_pos, to_pos]`` (from 0: everyone's latest).
        ``rooms`` is unused: visibility follows current joined memberships."""
        del rooms
        if not self.enabled:
            return []
        now = self.clock()
        latest: dict[str, UserPresence] = {}
        for p in await self.store.changed_for(user_id, from_pos, to_pos):
            latest[p.user_id] = p
        out: list[JsonDict] = []
        for uid, p in latest.items():
            cached = self._local.get(uid)
            if cached is not None and cached.stream_id == p.stream_id:
                p = cached  # fresher last_active_ts
            out.append({"type": "m.presence", "sender": uid, "content": presence_content(p, now)})
        return out

    async def members_presence(self, user_id: str, room_ids: Collection[str]) -> list[JsonDict]:
        """The current ``m.presence`` of the other joined members of ``room_ids`` whose
        presence is known (ever set): what a user who just joined those rooms has not
        seen (client-server-api "Presence": users see the presence of those they share
        a room with; ``/sync`` sends it for newly joined rooms)."""
        if not self.enabled or not room_ids:
            return []
        now = self.clock()
        seen: set[str] = {user_id}
        out: list[JsonDict] = []
        for room_id in room_ids:
            room = await self.rooms.events.get_room(room_id)
            if room is None:
                continue
            for member, membership, _ in await self.rooms.events.members(room.nid):
                if membership != "join" or member in seen:
                    continue
                seen.add(member)
                p = self._local.get(member) or await self.store.get(member)
                if p is not None:
                    out.append(
                        {
                            "type": "m.presence",
                            "sender": member,
                            "content": presence_content(p, now),
                        }
                    )
        return out

    async def users_presence(self, user_ids: Collection[str]) -> list[JsonDict]:
        """The current ``m.presence`` of each of ``user_ids``: what the members of a room
        have not seen of a user who just joined it. A local user never seen is offline
        (this server knows); a remote user this server has no presence of is left out
        (it does not know)."""
        if not self.enabled:
            return []
        now = self.clock()
        out: list[JsonDict] = []
        for uid in user_ids:
            found = self._local.get(uid) or await self.store.get(uid)
            if found is None and not self.is_local(uid):
                continue
            p = found if found is not None else UserPresence(uid)
            out.append({"type": "m.presence", "sender": uid, "content": presence_content(p, now)})
        return out

    # ---- writes ---------------------------------------------------------------------

    async def _write(self, p: UserPresence) -> UserPresence:
        """Persist a visible change, update the cache, wake the interested syncs."""
        stored = await self.store.put(p)
        if self.is_local(p.user_id):
            if stored.state == OFFLINE:
                self._local.pop(p.user_id, None)
            else:
                self._local[p.user_id] = stored
        rooms = await self.rooms.joined_rooms(p.user_id)
        self.listeners.notify(stored.stream_id, rooms, (p.user_id,))
        return stored

    async def set_status(self, user_id: str, presence: Any, status_msg: Any = None) -> None:
        """``PUT /presence/{userId}/status`` for a local user (validated here)."""
        if not isinstance(presence, str) or presence not in STATES:
            raise MatrixError(
                400, "M_INVALID_PARAM", "presence must be online, unavailable or offline"
            )
        if status_msg is not None and not isinstance(status_msg, str):
            raise MatrixError(400, "M_INVALID_PARAM", "status_msg must be a string")
        if not self.enabled:
            return
        async with self._locks.hold(user_id):
            now = self.clock()
            old = await self.current(user_id)
            new = replace(old, state=presence, status_msg=status_msg)
            if presence == ONLINE:
                new = replace(new, last_active_ts=now, currently_active=True)
            else:
                new = replace(new, currently_active=False)
            await self._write(new)

    async def bump_active(self, user_id: str) -> None:
        """The local user did something pro-active: online and currently active."""
        if not self.enabled:
            return
        now = self.clock()
        cached = self._local.get(user_id)
        if cached is not None and cached.state == ONLINE and cached.currently_active:
            self._local[user_id] = replace(cached, last_active_ts=now)
            return
        async with self._locks.hold(user_id):
            old = await self.current(user_id)
            await self._write(replace(old, state=ONLINE, last_active_ts=now, currently_active=True))

    @contextlib.asynccontextmanager
    async def user_syncing(
        self, user_id: str, set_presence: str | None = ONLINE
    ) -> AsyncIterator[None]:
        """Wrap a ``/sync`` of a local user: while inside, the user does not time out;
        an offline user comes ``online`` (or ``unavailable``) unless ``set_presence``
        is ``offline``."""
        if not self.enabled:
            yield
            return
        self._syncing[user_id] = self._syncing.get(user_id, 0) + 1
        try:
            wanted = ONLINE if set_presence is None else set_presence
            if wanted in (ONLINE, UNAVAILABLE):
                await self._sync_seen(user_id, wanted)
            yield
        finally:
            left = self._syncing.get(user_id, 1) - 1
            if left:
                self._syncing[user_id] = left
            else:
                self._syncing.pop(user_id, None)
            cached = self._local.get(user_id)
            if cached is not None:
                self._local[user_id] = replace(cached, last_user_sync_ts=self.clock())

    async def _sync_seen(self, user_id: str, wanted: str) -> None:
        now = self.clock()
        cached = self._local.get(user_id)
        if cached is not None:
            self._local[user_id] = replace(cached, last_user_sync_ts=now)
            return
        async with self._locks.hold(user_id):
            old = await self.current(user_id)
            if old.state != OFFLINE:
                self._local[user_id] = replace(old, last_user_sync_ts=now)
                return
            new = replace(old, state=wanted, last_user_sync_ts=now)
            if wanted == ONLINE:
                new = replace(new, last_active_ts=now, currently_active=True)
            await self._write(new)

    async def on_room_event(self, msg: RoomEventPersisted) -> None:
        """Bus handler: a local user's sent event is activity, except membership
        changes (client-server-api "Last active ago": "A pro-active event may be
        sending a message to a room"; joining or leaving is not one)."""
        if self.is_local(msg.sender) and msg.event_type != "m.room.member":
            await self.bump_active(msg.sender)

    async def on_remote_presence(self, user_id: str, content: JsonDict) -> bool:
        """An ``m.presence`` update for a remote user from federation; dropped (False)
        unless ``enable_inbound``."""
        if not self.enabled or not self.inbound or self.is_local(user_id):
            return False
        state = content.get("presence")
        if state not in STATES:
            return False
        ago = content.get("last_active_ago")
        now = self.clock()
        msg = content.get("status_msg")
        await self._write(
            UserPresence(
                user_id,
                str(state),
                msg if isinstance(msg, str) else None,
                now - ago if isinstance(ago, int) and not isinstance(ago, bool) and ago >= 0 else 0,
                0,
                content.get("currently_active") is True,
            )
        )
        return True

    # ---- timeouts -------------------------------------------------------------------

    def _timed_out(self, p: UserPresence, now: int) -> UserPresence:
        new = p
        if new.currently_active and now - new.last_active_ts > self.active_ms:
            new = replace(new, currently_active=False)
        if new.state == ONLINE and now - new.last_active_ts > self.idle_ms:
            new = replace(new, state=UNAVAILABLE, currently_active=False)
        if new.user_id not in self._syncing:
            seen = max(new.last_user_sync_ts, new.last_active_ts)
            if now - seen > self.sync_timeout_ms:
                new = replace(new, state=OFFLINE, currently_active=False)
        return new

    async def sweep(self) -> int:
        """Apply the timeouts to every local user not offline; return how many changed."""
        changed = 0
        for user_id in list(self._local):
            async with self._locks.hold(user_id):
                p = self._local.get(user_id)
                if p is None:
                    continue
                new = self._timed_out(p, self.clock())
                if new != p:
                    await self._write(new)
                    changed += 1
        return changed

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval_s)
            try:
                await self.sweep()
            except Exception:
                logger.exception("presence sweep failed")

"""Typing notifications: who is typing in which room, held in memory with timeouts.

Spec: client-server-api "Typing Notifications" (``PUT /rooms/{roomId}/typing/{userId}``,
the ``m.typing`` ephemeral event whose ``user_ids`` *replace* the client's list).

Theory of operation
-------------------
Typing state is short-lived and never persisted (the spec's server "does not remember"
users who stopped). Per room a dict ``user -> expiry`` (event loop time) holds the
users typing now. Every change of a room's set takes the next position of the typing
stream and records it as the room's position; ``changes_since(.., from_pos, to_pos)``
returns the full current ``m.typing`` event of each asked room whose position lies in
``(from_pos, to_pos]``: a delta is "the new list", as the spec wants.

Expiry: each start pushes ``(expiry, room, user)`` on a heap and one loop timer is
armed for the earliest entry; when it fires, entries whose expiry still matches the
user's current one are removed (a renewed typing notification left a stale entry,
which is skipped), all rooms changed in that pass share one new position, and the
timer is re-armed. A renewal that does not change who is typing moves no position.

Positions must only grow, also across restarts, or a long-poll holding a token from
before the restart would wait for positions that no longer come. The counter
therefore starts at the wall clock in microseconds (a restart starts above every
position handed out before it unless the server produced more than a million typing
changes a second).

Rooms whose set is empty keep their position (a later incremental sync must still see
the "stopped typing" update) in an LRU bounded by ``max_idle_rooms``; forgetting one
raises a *floor*, and a sync from below the floor gets the current (maybe empty)
``m.typing`` of every room it asks for, which is always correct.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections import OrderedDict
from collections.abc import Iterable

from ranvier.core.events import JsonDict
from ranvier.ephemeral.stream import Listeners

DEFAULT_TIMEOUT_MS = 30_000
"""Used when a client says it is typing without a ``timeout``."""
MAX_TIMEOUT_MS = 120_000
"""Longer timeouts are cut to this, so a lost "stopped typing" cannot last long."""
DEFAULT_MAX_IDLE_ROOMS = 50_000


class TypingState:
    """The typing stream (see the module docstring)."""

    def __init__(
        self,
        *,
        max_timeout_ms: int = MAX_TIMEOUT_MS,
        max_idle_rooms: int = DEFAULT_MAX_IDLE_ROOMS,
        start_position: int | None = None,
    ) -> None:
        self.max_timeout_ms = max_timeout_ms
        self.max_idle_rooms = max_idle_rooms
        self._position = time.time_ns() // 1000 if start_position is None else start_position
        self._floor = 0
        self._typing: dict[str, dict[str, float]] = {}
        self._room_pos: OrderedDict[str, int] = OrderedDict()
        self._heap: list[tuple[float, str, str]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self.listeners = Listeners()

    # ---- reads ----------------------------------------------------------------------

    def current_position(self) -> int:
        """The position of the latest change."""
        return self._position

    def typing_users(self, room_id: str) -> list[str]:
        """The users typing in ``room_id`` now, sorted."""
        return sorted(self._typing.get(room_id, ()))

    def event_for(self, room_id: str) -> JsonDict:
        """The ``m.typing`` ephemeral event of ``room_id`` (client-server-api "m.typing")."""
        return {"type": "m.typing", "content": {"user_ids": self.typing_users(room_id)}}

    def changes_since(
        self,
        user_id: str,
        rooms: Iterable[str],
        from_pos: int,
        to_pos: int | None = None,
    ) -> dict[str, JsonDict]:
        """``{room_id: m.typing event}`` for the ``rooms`` (those ``user_id`` is joined to)
        whose typing set changed in ``(from_pos, to_pos]``. ``from_pos`` 0 (initial sync)
        gives the rooms where someone is typing or typing changed since this process
        started (their current, maybe empty, list: a client that saw someone typing
        before it restarted learns they stopped)."""
        upto = self._position if to_pos is None else to_pos
        out: dict[str, JsonDict] = {}
        if from_pos <= 0:
            for room_id in rooms:
                if self._typing.get(room_id) or room_id in self._room_pos:
                    out[room_id] = self.event_for(room_id)
            return out
        if from_pos < self._floor or from_pos > self._position:
            # Forgotten history, or a token this process never issued: resend all.
            return {room_id: self.event_for(room_id) for room_id in rooms}
        for room_id in rooms:
            pos = self._room_pos.get(room_id)
            if pos is not None and from_pos < pos <= upto:
                out[room_id] = self.event_for(room_id)
        return out

    # ---- writes ---------------------------------------------------------------------

    def set_typing(
        self, room_id: str, user_id: str, typing: bool, timeout_ms: int | None = None
    ) -> None:
        """Start (for ``timeout_ms``, capped at ``max_timeout_ms``) or stop ``user_id``
        typing in ``room_id``. The caller has checked the user may (is joined)."""
        users = self._typing.get(room_id)
        if not typing:
            if users is None or user_id not in users:
                return
            del users[user_id]
            if not users:
                del self._typing[room_id]
            self._changed([room_id])
            return
        timeout = DEFAULT_TIMEOUT_MS if timeout_ms is None else timeout_ms
        timeout = max(0, min(timeout, self.max_timeout_ms))
        loop = asyncio.get_running_loop()
        expiry = loop.time() + timeout / 1000
        if users is None:
            users = self._typing[room_id] = {}
        was_typing = user_id in users
        users[user_id] = expiry
        heapq.heappush(self._heap, (expiry, room_id, user_id))
        self._arm(loop)
        if not was_typing:
            self._changed([room_id])

    def close(self) -> None:
        """Cancel the expiry timer (at shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # ---- internals ------------------------------------------------------------------

    def _changed(self, room_ids: list[str]) -> None:
        self._position += 1
        for room_id in room_ids:
            self._room_pos[room_id] = self._position
            self._room_pos.move_to_end(room_id)
        self._prune()
        self.listeners.notify(self._position, room_ids, ())

    def _prune(self) -> None:
        while len(self._room_pos) > self.max_idle_rooms:
            room_id, pos = next(iter(self._room_pos.items()))
            if room_id in self._typing:
                # Oldest room still has typers (their timeout is at most a few minutes
                # old): leave the LRU over its bound until they expire.
                return
            del self._room_pos[room_id]
            self._floor = max(self._floor, pos)

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._heap:
            return
        earliest = self._heap[0][0]
        if self._timer is not None:
            if self._timer_at <= earliest:
                return
            self._timer.cancel()
        self._timer_at = earliest
        self._timer = loop.call_at(earliest, self._expire)

    def _expire(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time() + 0.001  # timers may fire a hair early
        changed: list[str] = []
        while self._heap and self._heap[0][0] <= now:
            expiry, room_id, user_id = heapq.heappop(self._heap)
            users = self._typing.get(room_id)
            if users is None or users.get(user_id) != expiry:
                continue  # renewed or stopped since
            del users[user_id]
            if not users:
                del self._typing[room_id]
            if room_id not in changed:
                changed.append(room_id)
        if changed:
            self._changed(changed)
        self._arm(loop)

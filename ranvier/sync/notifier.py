"""The sync notifier: wakes exactly the long-polling ``/sync`` requests an update concerns.

Spec: client-server-api "Syncing" (the server holds a ``/sync`` with ``timeout`` open
"returning early if an event occurs").

Theory of operation
-------------------
The notifier knows the *current token* (:class:`~ranvier.sync.tokens.SyncToken`): the
highest position of each stream that producers have reported after their commit (room
events from the bus, account data from its store's listener, to-device messages from
:class:`~ranvier.sync.to_device.ToDeviceStore`). A sync reads the database only up to
that token, so whatever it does not see will still be reported to the notifier later.
(Positions of the events stream commit in increasing order -- see
:mod:`ranvier.rooms.event_store` -- so when position N is reported every position
below N is committed too.)

Updates are keyed: a room event concerns the key ``room_id`` and, for an
``m.room.member`` event, also the user in its ``state_key`` (so invites, joins and
kicks reach users not yet in the room); account data and to-device messages concern
their user; typing, receipts and presence concern the rooms and users they name
(:mod:`ranvier.ephemeral.stream`), and so do device list changes (the changed users
and their rooms). A waiting sync registers one waiter in the wait set
of its user and of each room it is joined to; an update resolves the waiters of its keys only, so a
message wakes the members of its room and nobody else.

To lose no update that lands while the sync was reading the database (between taking
the token and registering the waiter), the notifier remembers per key the last
positions that concerned it; :meth:`Notifier.wait` returns at once when a key has moved
past the sync's token. Memory is bounded: waiter sets exist only while someone waits,
and the per-key positions live in an LRU of ``max_keys`` entries; an evicted key's
positions are folded into a *floor* that unknown keys report, which can only cause a
spurious early wake-up (the sync then finds nothing new and waits again), never a
missed one.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Collection

from ranvier.rooms.outputs import RoomEventPersisted
from ranvier.sync.tokens import SyncToken

DEFAULT_MAX_KEYS = 200_000


def _moved(last: SyncToken, after: SyncToken) -> bool:
    return (
        last.events > after.events
        or last.account_data > after.account_data
        or last.to_device > after.to_device
        or last.typing > after.typing
        or last.receipts > after.receipts
        or last.presence > after.presence
        or last.device_lists > after.device_lists
    )


class Notifier:
    """Current stream positions and the wait sets of long-polling syncs."""

    def __init__(self, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        self._token = SyncToken()
        self._max_keys = max_keys
        self._last: OrderedDict[str, SyncToken] = OrderedDict()
        self._floor = SyncToken()
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self.started = False
        self.wakeups = 0

    # ---- positions ------------------------------------------------------------------

    def current(self) -> SyncToken:
        """The token up to which every stream is committed and reported."""
        return self._token

    def start(self, committed: SyncToken) -> None:
        """Raise the current token to what the database has committed (at startup)."""
        self._token = self._token.advance(committed)
        self.started = True

    def last_for(self, key: str) -> SyncToken:
        """The last positions that concerned ``key`` (the floor if forgotten)."""
        return self._last.get(key, self._floor)

    @property
    def waiting(self) -> int:
        """The number of (waiter, key) registrations, for metrics and tests."""
        return sum(len(s) for s in self._waiters.values())

    @property
    def tracked_keys(self) -> int:
        """How many keys have remembered positions (at most ``max_keys``)."""
        return len(self._last)

    # ---- producers ------------------------------------------------------------------

    def _touch(self, key: str, token: SyncToken) -> None:
        last = self._last.get(key)
        self._last[key] = token if last is None else last.advance(token)
        self._last.move_to_end(key)
        while len(self._last) > self._max_keys:
            _, evicted = self._last.popitem(last=False)
            self._floor = self._floor.advance(evicted)
        waiters = self._waiters.get(key)
        if waiters:
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
                    self.wakeups += 1

    def _advance(self, token: SyncToken) -> None:
        self._token = self._token.advance(token)

    def on_room_event(self, msg: RoomEventPersisted) -> None:
        """A room event was committed: wake its room, and its target user."""
        token = SyncToken(events=msg.stream_ordering)
        self._advance(token)
        self._touch(msg.room_id, token)
        if msg.event_type == "m.room.member" and msg.state_key is not None:
            self._touch(msg.state_key, token)

    async def room_event_handler(self, msg: RoomEventPersisted) -> None:
        """:meth:`on_room_event` as a bus handler."""
        self.on_room_event(msg)

    def on_account_data(self, user_id: str, position: int) -> None:
        """Account data of ``user_id`` was written at ``position``."""
        token = SyncToken(account_data=position)
        self._advance(token)
        self._touch(user_id, token)

    async def account_data_listener(self, user_id: str, position: int) -> None:
        """:meth:`on_account_data` as an account data store listener."""
        self.on_account_data(user_id, position)

    def on_to_device(self, user_ids: list[str], position: int) -> None:
        """To-device messages for ``user_ids`` were stored, the last at ``position``."""
        token = SyncToken(to_device=position)
        self._advance(token)
        for user_id in user_ids:
            self._touch(user_id, token)

    def _on_ephemeral(
        self, token: SyncToken, room_ids: Collection[str], user_ids: Collection[str]
    ) -> None:
        self._advance(token)
        for key in (*room_ids, *user_ids):
            self._touch(key, token)

    def on_typing(
        self, position: int, room_ids: Collection[str], user_ids: Collection[str]
    ) -> None:
        """The typing stream moved (a :data:`ranvier.ephemeral.stream.StreamListener`)."""
        self._on_ephemeral(SyncToken(typing=position), room_ids, user_ids)

    def on_receipts(
        self, position: int, room_ids: Collection[str], user_ids: Collection[str]
    ) -> None:
        """The receipts stream moved (a private receipt names only its owner)."""
        self._on_ephemeral(SyncToken(receipts=position), room_ids, user_ids)

    def on_presence(
        self, position: int, room_ids: Collection[str], user_ids: Collection[str]
    ) -> None:
        """A user's presence changed: their rooms and themselves."""
        self._on_ephemeral(SyncToken(presence=position), room_ids, user_ids)

    def on_device_lists(
        self, position: int, room_ids: Collection[str], user_ids: Collection[str]
    ) -> None:
        """Device lists of ``user_ids`` changed: their rooms and themselves."""
        self._on_ephemeral(SyncToken(device_lists=position), room_ids, user_ids)

    # ---- consumers ------------------------------------------------------------------

    async def wait(
        self, user_id: str, room_ids: list[str], after: SyncToken, timeout: float
    ) -> bool:
        """Wait until an update concerning ``user_id`` or one of ``room_ids`` is past
        ``after``, at most ``timeout`` seconds; return whether one came."""
        keys = [user_id, *room_ids]
        if any(_moved(self.last_for(k), after) for k in keys):
            return True
        if timeout <= 0:
            return False
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for key in keys:
            self._waiters.setdefault(key, set()).add(fut)
        try:
            async with asyncio.timeout(timeout):
                await fut
            return True
        except TimeoutError:
            return False
        finally:
            for key in keys:
                waiters = self._waiters.get(key)
                if waiters is not None:
                    waiters.discard(fut)
                    if not waiters:
                        del self._waiters[key]

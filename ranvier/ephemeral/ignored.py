"""Ignored users: who a user ignores (``m.ignored_user_list``), cached, and the filter
``/sync`` and ``/messages`` apply with it.

Spec: client-server-api "Ignoring Users": once ignored, the client "will no longer
receive events sent by that user, with the exception of state events", and "servers
must not send room invites from ignored users"; after an update of the list "the sync
API for all clients should immediately start ignoring (or un-ignoring) the user".

Theory of operation: :class:`IgnoredUsers` reads the global account data entry
``m.ignored_user_list`` (``{"ignored_users": {user_id: {}}}``) once per user and caches
the set in an LRU. It registers itself as a listener of the account data store, and
any write of a user's account data drops that user's entry, so the next filter call
reads the new list. Bookkeeping of in-flight reads keeps a read that raced with a
write from caching the old list: a write during a read marks the user stale, and no
read that overlapped a stale mark caches its result.

How sync and messages use it (see :func:`hidden`): take ``ignored = await
ignored_users.ignored_by(user_id)`` once per request, then drop every timeline event
for which ``hidden(ignored, event)`` is true, and leave out an invited room whose
invite event's sender is in ``ignored``. State events are never hidden.
"""

from __future__ import annotations

from typing import Any

from ranvier.core.events import Event
from ranvier.rooms.lru import LruCache
from ranvier.users.account_data import AccountDataStore

IGNORED_USER_LIST = "m.ignored_user_list"
DEFAULT_CACHE_SIZE = 50_000


def parse_ignored(content: Any) -> frozenset[str]:
    """The user ids of an ``m.ignored_user_list`` content (malformed parts ignored)."""
    if not isinstance(content, dict):
        return frozenset()
    users = content.get("ignored_users")
    if not isinstance(users, dict):
        return frozenset()
    return frozenset(u for u in users if isinstance(u, str) and u.startswith("@"))


def hidden(ignored: frozenset[str], event: Event) -> bool:
    """Whether ``event`` is hidden from a user ignoring ``ignored``: a non-state event
    sent by an ignored user."""
    return bool(ignored) and not event.is_state and event.sender in ignored


class IgnoredUsers:
    """Cached ignored-user lists (see the module docstring)."""

    def __init__(self, account_data: AccountDataStore, cache_size: int = DEFAULT_CACHE_SIZE):
        self.account_data = account_data
        self._cache: LruCache[str, frozenset[str]] = LruCache(cache_size)
        self._reading: dict[str, int] = {}
        self._stale: set[str] = set()
        account_data.add_listener(self._on_account_data)

    async def _on_account_data(self, user_id: str, position: int) -> None:
        del position
        self._cache.discard(user_id)
        if user_id in self._reading:
            self._stale.add(user_id)

    async def ignored_by(self, user_id: str) -> frozenset[str]:
        """The users ``user_id`` ignores."""
        cached = self._cache.get(user_id)
        if cached is not None:
            return cached
        self._reading[user_id] = self._reading.get(user_id, 0) + 1
        try:
            content = await self.account_data.get(user_id, None, IGNORED_USER_LIST)
        finally:
            left = self._reading[user_id] - 1
            if left:
                self._reading[user_id] = left
            else:
                del self._reading[user_id]
        ignored = parse_ignored(content)
        if user_id not in self._stale:
            self._cache.put(user_id, ignored)
        if not left:
            self._stale.discard(user_id)
        return ignored

    async def is_ignored(self, user_id: str, sender: str) -> bool:
        """Whether ``user_id`` ignores ``sender``."""
        return sender in await self.ignored_by(user_id)

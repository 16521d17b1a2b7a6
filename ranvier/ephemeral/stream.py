"""What every ephemeral stream shares: the listener contract that wakes ``/sync``.

A stream calls ``listener(position, room_ids, user_ids)`` after a change is visible to
readers (committed, or set in memory): ``position`` is the stream's new position,
``room_ids`` the rooms whose members may see the change (typing, public receipts, a
user's presence reaches every room the user is joined to) and ``user_ids`` the users it
concerns directly (a private receipt concerns only its owner). The sync notifier turns
that into wake-ups of exactly those long-polls (client-server-api "Syncing").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection

logger = logging.getLogger(__name__)

StreamListener = Callable[[int, Collection[str], Collection[str]], None]
"""``listener(position, room_ids, user_ids)``; must not block (it runs inline)."""


class Listeners:
    """A list of :data:`StreamListener` called in registration order."""

    def __init__(self) -> None:
        self._listeners: list[StreamListener] = []

    def add(self, listener: StreamListener) -> None:
        """Call ``listener`` after every later change."""
        self._listeners.append(listener)

    def notify(self, position: int, room_ids: Collection[str], user_ids: Collection[str]) -> None:
        """Tell every listener; one that raises is logged and the others still run."""
        for listener in self._listeners:
            try:
                listener(position, room_ids, user_ids)
            except Exception:
                logger.exception("ephemeral stream listener failed")

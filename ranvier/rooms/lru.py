"""A small least-recently-used cache (dict-ordered), for snapshots, events and ids.

Entries are immutable values shared by every reader; callers never mutate what
they get back. Not thread-safe: used from the event loop only.
"""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """Keeps at most ``capacity`` entries, evicting the least recently used."""

    __slots__ = ("_data", "capacity", "hits", "misses")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._data: dict[K, V] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: K) -> V | None:
        """The value for ``key`` (marking it recently used), or None."""
        try:
            value = self._data.pop(key)
        except KeyError:
            self.misses += 1
            return None
        self._data[key] = value
        self.hits += 1
        return value

    def put(self, key: K, value: V) -> None:
        """Store ``value`` under ``key``, evicting the oldest entry when full."""
        self._data.pop(key, None)
        self._data[key] = value
        if len(self._data) > self.capacity:
            del self._data[next(iter(self._data))]

    def discard(self, key: K) -> None:
        """Forget ``key`` if present."""
        self._data.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

"""Per-key request rate limiting (client-server API, "Rate limiting").

A leaky bucket per key (a user ID, a device, an IP address): each accepted action adds
one unit; the bucket drains one unit every ``cooloff_ms``; an action that would make the
level exceed ``threshold`` is refused with ``429 M_LIMIT_EXCEEDED``, ``retry_after_ms``
(deprecated but still read by clients) and a ``Retry-After`` header in whole seconds,
rounded up, as the spec recommends. ``threshold`` is thus the burst allowed and
``1000 / cooloff_ms`` the sustained rate per second (the parameters Dendrite's
configuration uses).

Memory is bounded: buckets live in a dict kept in least-recently-used order; when it
holds more than ``max_keys`` entries, drained buckets are dropped, and if that is not
enough the least recently used ones are (forgetting a bucket only ever makes the limiter
more lenient towards that key).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from ranvier.http.types import MatrixError


class RateLimiter:
    """A leaky bucket per key; see the module docstring."""

    def __init__(
        self,
        threshold: int,
        cooloff_ms: int,
        exempt: frozenset[str] = frozenset(),
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock`` returns seconds (monotonic); tests may pass their own."""
        if threshold < 1 or cooloff_ms < 1:
            raise ValueError("threshold and cooloff_ms must be positive")
        self.threshold = threshold
        self.cooloff_ms = cooloff_ms
        self.exempt = exempt
        self.max_keys = max_keys
        self._per_second = 1000.0 / cooloff_ms
        self._clock = clock
        # key -> (level, time of last update)
        self._buckets: dict[str, tuple[float, float]] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    def check(self, key: str) -> None:
        """Count one action by ``key`` or raise ``429 M_LIMIT_EXCEEDED``."""
        if key in self.exempt:
            return
        now = self._clock()
        buckets = self._buckets
        entry = buckets.pop(key, None)
        level = 0.0
        if entry is not None:
            level = max(0.0, entry[0] - (now - entry[1]) * self._per_second)
        if level + 1.0 > self.threshold:
            buckets[key] = (level, now)
            # The epsilon absorbs float noise from the clock subtraction.
            wait_ms = math.ceil((level + 1.0 - self.threshold) * self.cooloff_ms - 1e-6)
            error = MatrixError(
                429, "M_LIMIT_EXCEEDED", "Too many requests", retry_after_ms=wait_ms
            )
            error.headers.append(("Retry-After", str(max(1, math.ceil(wait_ms / 1000)))))
            raise error
        buckets[key] = (level + 1.0, now)
        if len(buckets) > self.max_keys:
            self._evict(now)

    def _evict(self, now: float) -> None:
        per_second = self._per_second
        buckets = self._buckets
        drained = [k for k, (lvl, t) in buckets.items() if lvl - (now - t) * per_second <= 0]
        for key in drained:
            del buckets[key]
        excess = len(buckets) - self.max_keys * 3 // 4
        if excess > 0:
            for key in list(buckets)[:excess]:
                del buckets[key]

"""Drive an operation with a fixed number of concurrent workers, bounded in count and time.

``run_load(op, concurrency=C, max_ops=N, max_seconds=T)`` starts C workers; each takes the
next operation index and awaits ``op(index)``, timing it with ``time.perf_counter``. Work stops
when N operations have been started or T seconds have passed (an operation in flight at the
deadline finishes and counts). The first exception of any worker cancels the others and is
re-raised: a failing operation fails the whole measurement rather than being timed.

Cheap, repeatable operations use a time bound with a large count (so a fast server does more
of them and the CPU tick resolution stays small relative to the total); operations that create
things (accounts, rooms) use a count bound.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class LoadResult:
    """Completed operations, the wall time they took and each one's latency in seconds."""

    ops: int = 0
    wall_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        """Operations per second over the wall time."""
        return self.ops / self.wall_seconds if self.wall_seconds > 0 else 0.0


async def run_load(
    op: Callable[[int], Awaitable[None]],
    *,
    concurrency: int,
    max_ops: int,
    max_seconds: float,
) -> LoadResult:
    """Run ``op`` up to ``max_ops`` times with ``concurrency`` workers for <= ``max_seconds``."""
    if concurrency < 1 or max_ops < 1 or max_seconds <= 0:
        raise ValueError("concurrency, max_ops and max_seconds must be positive")
    result = LoadResult()
    next_index = 0
    start = time.perf_counter()
    deadline = start + max_seconds

    async def worker() -> None:
        nonlocal next_index
        while next_index < max_ops and time.perf_counter() < deadline:
            index = next_index
            next_index += 1
            t0 = time.perf_counter()
            await op(index)
            result.latencies.append(time.perf_counter() - t0)
            result.ops += 1

    tasks = [asyncio.create_task(worker()) for _ in range(min(concurrency, max_ops))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    result.wall_seconds = time.perf_counter() - start
    return result

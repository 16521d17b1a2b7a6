"""Initial sync of a user in many rooms: ``GET /sync`` without ``since`` (spec client-server-api
"Syncing") for a user who created ``100 x scale`` rooms, each answer checked to list all of
them under ``rooms.join``. Repeated ``5 x scale`` times sequentially; each request uses a
different ``timeout`` value so that Synapse's sync response cache (keyed on the request
parameters, 2 minutes by default) cannot answer a repeat from memory.
"""

from __future__ import annotations

import time

from ..client import BadResponse
from ..context import RunContext
from ..load import run_load
from ..results import Metric
from ..stats import percentile
from .base import Scenario
from .rooms import create_room, sync


async def run(ctx: RunContext) -> list[Metric]:
    """Create the rooms, then time full initial syncs."""
    user = (await ctx.accounts(1))[0]
    room_count = ctx.n(100)
    rooms: list[str] = []

    async def make(i: int) -> None:
        rooms.append(await create_room(ctx, user, public=False, name=f"initial {i}"))

    await make(-1)  # detects a missing endpoint before the bulk of the work
    done = await run_load(make, concurrency=4, max_ops=room_count - 1, max_seconds=900)
    if done.ops < room_count - 1:
        raise RuntimeError(f"only {done.ops + 1} of {room_count} rooms created in time")
    syncs = ctx.n(5, minimum=3)
    latencies: list[float] = []
    async with ctx.cpu_window() as window:
        for i in range(syncs):
            t0 = time.perf_counter()
            answer = await sync(ctx, user, timeout_ms=i + 1, request_timeout=300)
            latencies.append(time.perf_counter() - t0)
            joined = answer.get("rooms", {}).get("join", {})
            missing = set(rooms) - set(joined)
            if missing:
                raise BadResponse(f"initial sync lacks {len(missing)} of {len(rooms)} rooms")
    ms = [x * 1000.0 for x in latencies]
    ctx.raw.update(
        {"rooms": room_count, "syncs": syncs, "latency_ms": ms, "cpu_seconds": window.cpu_seconds}
    )
    return [
        Metric("p50 latency", "ms", percentile(ms, 50), "lower"),
        Metric("p99 latency", "ms", percentile(ms, 99), "lower"),
        Metric("server CPU", "ms/sync", window.cpu_seconds * 1000.0 / syncs, "lower"),
        Metric("peak RSS", "MiB", window.peak_rss_mib, "lower"),
    ]


SCENARIO = Scenario("initial_sync", "Initial sync, user in 100 rooms", run, max_repeats=2)

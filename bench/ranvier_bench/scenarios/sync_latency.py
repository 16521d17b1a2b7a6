"""Sync delivery latency: how long after a message is sent does a waiting client get it.

A receiver keeps an incremental long-poll ``GET /sync?since=...&timeout=30000`` open (spec
client-server-api "Syncing"); 50 ms after it is sent, the sender sends a message; the latency is
from the send request's start to the long-poll answer that contains the new event id (a sync
that returns for another reason, e.g. presence, is followed by the next one, as a client
would). ``30 x scale`` sequential samples. The issue's target: p50 at least 10x lower.
"""

from __future__ import annotations

import asyncio
import time

from ..client import BadResponse
from ..context import RunContext
from ..results import Metric
from ..stats import percentile
from .base import Scenario
from .rooms import room_with_members, send_text, sync, timeline_event_ids

LATENCY_TARGET = 10.0


async def run(ctx: RunContext) -> list[Metric]:
    """Measure send-to-sync delivery for sequential messages."""
    room_id, (sender, receiver) = await room_with_members(ctx, "sync_room", 2)
    since = (await sync(ctx, receiver, limit=1))["next_batch"]
    samples = ctx.n(30, minimum=3)
    latencies: list[float] = []
    async with ctx.cpu_window() as window:
        for i in range(samples):
            poll = asyncio.create_task(
                sync(ctx, receiver, since=since, timeout_ms=30_000, request_timeout=60)
            )
            await asyncio.sleep(0.05)
            if poll.done():  # woke up for something else (presence...): start again
                since = poll.result()["next_batch"]
                poll = asyncio.create_task(
                    sync(ctx, receiver, since=since, timeout_ms=30_000, request_timeout=60)
                )
                await asyncio.sleep(0.05)
            t0 = time.perf_counter()
            event_id = await send_text(ctx, sender, room_id, f"latency probe {i}")
            deadline = t0 + 30
            while True:
                answer = await poll
                since = answer["next_batch"]
                if event_id in timeline_event_ids(answer, room_id):
                    latencies.append(time.perf_counter() - t0)
                    break
                if time.perf_counter() > deadline:
                    raise BadResponse(f"sync did not deliver {event_id} within 30 s")
                poll = asyncio.create_task(
                    sync(ctx, receiver, since=since, timeout_ms=30_000, request_timeout=60)
                )
    ms = [x * 1000.0 for x in latencies]
    ctx.raw.update({"samples": samples, "cpu_seconds": window.cpu_seconds, "latency_ms": ms})
    return [
        Metric("p50 delivery", "ms", percentile(ms, 50), "lower", LATENCY_TARGET),
        Metric("p99 delivery", "ms", percentile(ms, 99), "lower"),
        Metric("server CPU", "ms/msg", window.cpu_seconds * 1000.0 / samples, "lower"),
        Metric("peak RSS", "MiB", window.peak_rss_mib, "lower"),
    ]


SCENARIO = Scenario("sync_latency", "Sync delivery latency (long-poll wake-up)", run)

"""History paging: ``GET /rooms/{roomId}/messages?dir=b&limit=50`` (spec client-server-api
"GET /_matrix/client/v3/rooms/{roomId}/messages") from the newest event back to the room's
start, following ``end`` tokens, over a room of at least ``1000 x scale`` messages. A pass must
see every message the bench sent; ``3 x scale`` passes, each page timed.
"""

from __future__ import annotations

import time

from ..client import CLIENT, BadResponse, q, require
from ..context import RunContext
from ..results import Metric
from ..stats import percentile
from .base import Scenario
from .rooms import busy_room

PAGE = 50


async def run(ctx: RunContext) -> list[Metric]:
    """Page back through the busy room several times."""
    count = ctx.n(1000)
    room_id, members = await busy_room(ctx, count)
    reader = members[0]
    passes = ctx.n(3, minimum=2)
    latencies: list[float] = []
    async with ctx.cpu_window() as window:
        for _ in range(passes):
            token: str | None = None
            texts = 0
            while True:
                params = {"dir": "b", "limit": str(PAGE)}
                if token is not None:
                    params["from"] = token
                t0 = time.perf_counter()
                page = await ctx.api.call(
                    "GET",
                    f"{CLIENT}/rooms/{q(room_id)}/messages",
                    params=params,
                    token=reader.access_token,
                )
                latencies.append(time.perf_counter() - t0)
                chunk = require(page, "chunk", list, "messages")
                texts += sum(
                    1 for e in chunk if isinstance(e, dict) and e.get("type") == "m.room.message"
                )
                token = page.get("end")
                if not chunk or not isinstance(token, str):
                    break
                if len(latencies) > 100_000:
                    raise BadResponse("/messages never reached the start of the room")
            if texts < count:
                raise BadResponse(f"/messages returned {texts} messages, the room holds {count}+")
    ms = [x * 1000.0 for x in latencies]
    pages = len(latencies)
    ctx.raw.update({"pages": pages, "passes": passes, "cpu_seconds": window.cpu_seconds})
    return [
        Metric("p50 latency", "ms", percentile(ms, 50), "lower"),
        Metric("p99 latency", "ms", percentile(ms, 99), "lower"),
        Metric("server CPU", "ms/page", window.cpu_seconds * 1000.0 / pages, "lower"),
        Metric("peak RSS", "MiB", window.peak_rss_mib, "lower"),
    ]


SCENARIO = Scenario("messages_paging", "Page back through /messages (50 per page)", run)

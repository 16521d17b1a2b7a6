"""Database growth per message: the database's used bytes before and after ``2000 x scale``
messages are sent into a fresh room by 10 senders (the same sends as ``send_messages``),
scaled to 10,000 messages. SQLite: used pages (page_count - freelist_count, WAL content
included) read from a read-only connection; PostgreSQL: ``pg_database_size``. The server gets
two seconds to finish background writes before the second reading. Run once per server.
"""

from __future__ import annotations

import asyncio

from ..context import RunContext
from ..load import run_load
from ..results import Metric
from .base import Scenario
from .rooms import room_with_members, send_text

PER = 10_000


async def run(ctx: RunContext) -> list[Metric]:
    """Measure the database's growth over a batch of messages."""
    room_id, senders = await room_with_members(ctx, "db_room", 10)
    count = ctx.n(2000)
    await asyncio.sleep(2.0)
    before = await ctx.server.db_bytes()

    async def op(i: int) -> None:
        await send_text(ctx, senders[i % len(senders)], room_id, f"database growth message {i}")

    done = await run_load(op, concurrency=10, max_ops=count, max_seconds=900)
    if done.ops < count:
        raise RuntimeError(f"only {done.ops} of {count} messages sent in time")
    await asyncio.sleep(2.0)
    after = await ctx.server.db_bytes()
    ctx.raw.update({"messages": count, "db_bytes_before": before, "db_bytes_after": after})
    return [
        Metric(f"DB growth per {PER} msgs", "MiB", (after - before) / count * PER / 2**20, "lower"),
        Metric("DB size after", "MiB", after / 2**20, "lower"),
    ]


SCENARIO = Scenario("db_bytes", "Database bytes per 10,000 messages", run, max_repeats=1)

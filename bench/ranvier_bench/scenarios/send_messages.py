"""Sending messages: 10 members of one room send ``m.room.message`` events concurrently
(``PUT /rooms/{roomId}/send/{eventType}/{txnId}``, spec client-server-api "Sending events to a
room"). This is the core write path: auth checks, persistence, stream ordering, notifying.
Bounded by count (``1000 x scale``) and time (``3 x --seconds``). The issue's target: server CPU
per message at least 15x lower than Synapse's.
"""

from __future__ import annotations

from ..context import RunContext
from ..results import Metric
from .base import Scenario
from .rooms import room_with_members, send_text

CPU_TARGET = 15.0


async def run(ctx: RunContext) -> list[Metric]:
    """Send messages from 10 concurrent senders into one room."""
    room_id, senders = await room_with_members(ctx, "send_room", 10)

    async def op(i: int) -> None:
        await send_text(ctx, senders[i % len(senders)], room_id, f"bench message number {i}")

    return await ctx.measure(
        op,
        max_ops=ctx.n(1000),
        max_seconds=3 * ctx.seconds,
        concurrency=10,
        unit="msg",
        cpu_target=CPU_TARGET,
    )


SCENARIO = Scenario("send_messages", "Send messages, 10 concurrent senders, one room", run)

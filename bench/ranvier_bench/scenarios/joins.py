"""Joins: ``200 x scale`` users join one public room (``POST /join/{roomIdOrAlias}``, spec
client-server-api "Joining rooms"), 10 at a time. Each join is a membership state event: auth
against the room's state, a state update, and notification of all current members, so the cost
grows with the room. The accounts are registered before the measurement.
"""

from __future__ import annotations

from ..context import RunContext
from ..results import Metric
from .base import Scenario
from .rooms import create_room, join


async def run(ctx: RunContext) -> list[Metric]:
    """Register the joiners, then time their joins."""
    owner = (await ctx.accounts(1))[0]
    room_id = await create_room(ctx, owner, name="joins")
    count = ctx.n(200)
    joiners = (await ctx.accounts(count + 1))[1:]

    async def op(i: int) -> None:
        await join(ctx, joiners[i], room_id)

    return await ctx.measure(op, max_ops=count, max_seconds=600, concurrency=10, unit="join")


SCENARIO = Scenario("joins", "200 users join one room", run, max_repeats=2)

"""Room creation: ``POST /createRoom`` with the ``private_chat`` preset (spec client-server-api
"Creation"): create event, creator's join, power levels, join rules, history visibility, name.
Count-bounded, 4 concurrent creators.
"""

from __future__ import annotations

from ..context import RunContext
from ..results import Metric
from .base import Scenario
from .rooms import create_room


async def run(ctx: RunContext) -> list[Metric]:
    """Create ``20 x scale`` rooms."""
    owner = (await ctx.accounts(1))[0]
    await create_room(ctx, owner, public=False, name="probe")  # also detects a missing endpoint
    accounts = await ctx.accounts(4)

    async def op(i: int) -> None:
        await create_room(ctx, accounts[i % 4], public=False, name=f"room {i}")

    return await ctx.measure(op, max_ops=ctx.n(20), max_seconds=300, concurrency=4, unit="room")


SCENARIO = Scenario("create_room", "POST /createRoom", run)

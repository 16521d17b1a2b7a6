"""An authenticated read: ``GET /account/whoami`` (spec client-server-api
"GET /_matrix/client/v3/account/whoami"). It measures access-token authentication plus the
HTTP stack. Time-bounded, 10 accounts, each answer must name the caller.
"""

from __future__ import annotations

from ..context import RunContext
from ..results import Metric
from .base import Scenario


async def run(ctx: RunContext) -> list[Metric]:
    """Call whoami for ``--seconds`` with ``--concurrency`` clients."""
    accounts = await ctx.accounts(10)

    async def op(i: int) -> None:
        await ctx.api.whoami(accounts[i % len(accounts)])

    return await ctx.measure(op, max_ops=ctx.n(1_000_000))


SCENARIO = Scenario("whoami", "GET /account/whoami (authenticated)", run)

"""Registration with the ``m.login.dummy`` user-interactive flow (spec client-server-api
"POST /_matrix/client/v3/register", "User-interactive authentication API").

One operation is the whole flow: the 401 challenge and the completing request, which hashes the
password with bcrypt at the configured cost (the same on both servers), creates the account,
a device and an access token. Count-bounded: it creates accounts, which later scenarios reuse.
"""

from __future__ import annotations

from ..context import PASSWORD, RunContext
from ..results import Metric
from .base import Scenario


async def run(ctx: RunContext) -> list[Metric]:
    """Register ``20 x scale`` accounts with 4 concurrent clients."""
    count = ctx.n(20, minimum=2)

    async def op(i: int) -> None:
        ctx.accounts_made.append(await ctx.api.register(ctx.new_localpart(), PASSWORD))

    return await ctx.measure(op, max_ops=count, max_seconds=600, concurrency=4, unit="account")


SCENARIO = Scenario("register", "Register (m.login.dummy UIA)", run)

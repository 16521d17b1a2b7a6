"""Password login (spec client-server-api "POST /_matrix/client/v3/login", ``m.login.password``
with a ``m.id.user`` identifier). Each login verifies a bcrypt hash and creates a device and an
access token; the answer must carry the right ``user_id`` and a token. Count-bounded.
"""

from __future__ import annotations

from ..client import BadResponse
from ..context import PASSWORD, RunContext
from ..results import Metric
from .base import Scenario


async def run(ctx: RunContext) -> list[Metric]:
    """Log in ``20 x scale`` times, spread over 4 accounts, 4 concurrent clients."""
    accounts = await ctx.accounts(4)

    async def op(i: int) -> None:
        account = accounts[i % len(accounts)]
        got = await ctx.api.login(account.localpart, PASSWORD)
        if got.user_id != account.user_id:
            raise BadResponse(f"login: expected {account.user_id}, got {got.user_id}")

    return await ctx.measure(
        op, max_ops=ctx.n(20, minimum=2), max_seconds=600, concurrency=4, unit="login"
    )


SCENARIO = Scenario("login", "Login (m.login.password)", run)

"""Global account data writes: ``PUT /user/{userId}/account_data/{type}`` (spec
client-server-api "Client Config"). Each account writes a ~200-byte object under one type,
concurrently, time-bounded; afterwards each account's value is read back and checked.
"""

from __future__ import annotations

from ..client import CLIENT, BadResponse, q
from ..context import RunContext
from ..results import Metric
from .base import Scenario

EVENT_TYPE = "org.ranvier.bench.data"


async def run(ctx: RunContext) -> list[Metric]:
    """Write account data for ``--seconds``, then verify it."""
    accounts = await ctx.accounts(10)

    async def op(i: int) -> None:
        account = accounts[i % len(accounts)]
        await ctx.api.call(
            "PUT",
            f"{CLIENT}/user/{q(account.user_id)}/account_data/{EVENT_TYPE}",
            body={"seq": i, "owner": account.user_id, "pad": "x" * 150},
            token=account.access_token,
        )

    metrics = await ctx.measure(op, max_ops=ctx.n(1_000_000), unit="write")
    for account in accounts:
        got = await ctx.api.call(
            "GET",
            f"{CLIENT}/user/{q(account.user_id)}/account_data/{EVENT_TYPE}",
            token=account.access_token,
        )
        if got.get("owner") != account.user_id or not isinstance(got.get("seq"), int):
            raise BadResponse(f"account data of {account.user_id} reads back as {got!r}")
    return metrics


SCENARIO = Scenario("account_data", "PUT /user/{user}/account_data/{type}", run)

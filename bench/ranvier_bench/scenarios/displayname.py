"""Profile writes: ``PUT /profile/{userId}/displayname`` (spec client-server-api "Profiles").
Each account sets its own name, concurrently; afterwards every account's name is read back
and must be one the bench set. Time-bounded. (No rooms exist yet, so Synapse does not fan the
change out to member events; that cost belongs to a later rooms scenario.)
"""

from __future__ import annotations

from ..client import CLIENT, BadResponse, q
from ..context import RunContext
from ..results import Metric
from .base import Scenario


async def run(ctx: RunContext) -> list[Metric]:
    """Set display names for ``--seconds``, then verify them."""
    accounts = await ctx.accounts(10)

    async def op(i: int) -> None:
        account = accounts[i % len(accounts)]
        await ctx.api.call(
            "PUT",
            f"{CLIENT}/profile/{q(account.user_id)}/displayname",
            body={"displayname": f"Bench {i}"},
            token=account.access_token,
        )

    metrics = await ctx.measure(op, max_ops=ctx.n(1_000_000), unit="write")
    for account in accounts:
        got = await ctx.api.call(
            "GET", f"{CLIENT}/profile/{q(account.user_id)}/displayname", token=account.access_token
        )
        name = got.get("displayname")
        if not isinstance(name, str) or not name.startswith("Bench "):
            raise BadResponse(f"displayname of {account.user_id} reads back as {got!r}")
    return metrics


SCENARIO = Scenario("displayname", "PUT /profile/{user}/displayname", run)

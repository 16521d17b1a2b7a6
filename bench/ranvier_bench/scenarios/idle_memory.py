"""Idle memory: resident set size right after start and after a short warm-up.

"Right after start" is the tree's VmRSS when ``/_matrix/client/versions`` first answers 200
(sampled by the runner). The warm-up then exercises the account endpoints once each (a few
``/versions``, a registration, a login, ``whoami``, a display name and an account data write),
waits a second, and samples VmRSS again: the memory of a server that has done a little of
everything but holds no load. The issue's target: ranvier's idle RSS at least 3x smaller.
"""

from __future__ import annotations

import asyncio

from ..client import CLIENT, q
from ..context import MIB, RunContext
from ..results import Metric
from .base import Scenario

TARGET = 3.0


async def run(ctx: RunContext) -> list[Metric]:
    """Report RSS at start, then warm up and report RSS again."""
    if ctx.start_sample is None:
        raise RuntimeError("the runner did not sample the server at start")
    metrics = [Metric("RSS after start", "MiB", ctx.start_sample.rss_kb / MIB, "lower", TARGET)]
    for _ in range(50):
        versions = await ctx.api.call("GET", "/_matrix/client/versions")
        if not isinstance(versions.get("versions"), list):
            raise RuntimeError(f"/versions without a versions list: {versions!r}")
    (account,) = await ctx.accounts(1)
    await ctx.api.login(account.localpart, account.password)
    await ctx.api.whoami(account)
    await ctx.api.call(
        "PUT",
        f"{CLIENT}/profile/{q(account.user_id)}/displayname",
        body={"displayname": "Warm Up"},
        token=account.access_token,
    )
    await ctx.api.call(
        "PUT",
        f"{CLIENT}/user/{q(account.user_id)}/account_data/org.ranvier.bench.warmup",
        body={"warm": True},
        token=account.access_token,
    )
    await asyncio.sleep(1.0)
    after = ctx.server.sample()
    ctx.raw["rss_start_kb"] = ctx.start_sample.rss_kb
    ctx.raw["rss_warm_kb"] = after.rss_kb
    ctx.raw["pids"] = list(after.pids)
    metrics.append(Metric("RSS after warm-up", "MiB", after.rss_kb / MIB, "lower", TARGET))
    return metrics


SCENARIO = Scenario("idle_memory", "Idle memory after start and warm-up", run)

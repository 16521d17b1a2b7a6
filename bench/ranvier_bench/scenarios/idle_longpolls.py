"""Idle long-polls: ``2000 x scale`` incremental ``GET /sync`` requests held open at once (spec
client-server-api "Syncing", ``timeout``), as a server with many connected but quiet clients
sees them. Reported: the server's RSS growth per open long-poll, and its CPU per second while
they are all parked. ``set_presence=offline`` keeps the polls themselves from producing
presence updates that would wake the other polls.

The polls are spread over 20 accounts, each poll with its own ``timeout`` (60 s plus its index
in ms) so that no server can share one computation between identical requests. The bench waits
until every request has been written, lets the server settle, samples, holds ``--seconds``,
samples again, then closes all the connections. A poll that ends early must be a valid sync
answer, and is re-issued with its ``next_batch`` as a client would (counted in the raw
results); any error fails the scenario, and so do fewer than 90% of the polls open at once.
"""

from __future__ import annotations

import asyncio

import aiohttp

from ..client import BadResponse, require
from ..context import MIB, RunContext
from ..results import Metric
from .base import Scenario
from .rooms import sync

USERS = 20


async def run(ctx: RunContext) -> list[Metric]:
    """Open the long-polls, measure memory and idle CPU, close them."""
    accounts = await ctx.accounts(USERS)
    since = [(await sync(ctx, a, limit=1))["next_batch"] for a in accounts]
    count = ctx.n(2000)
    await asyncio.sleep(1.0)
    before = ctx.server.sample()
    open_now = 0
    repolls = 0
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def poll(i: int) -> None:
            nonlocal open_now, repolls
            account = accounts[i % USERS]
            token = since[i % USERS]
            while True:
                open_now += 1
                try:
                    answer = await ctx.api.call(
                        "GET",
                        "/_matrix/client/v3/sync",
                        params={
                            "since": token,
                            "timeout": str(60_000 + i),
                            "set_presence": "offline",
                        },
                        token=account.access_token,
                        timeout=120,
                        session=session,
                    )
                finally:
                    open_now -= 1
                token = require(answer, "next_batch", str, "sync")
                repolls += 1

        tasks = [asyncio.create_task(poll(i)) for i in range(count)]
        try:
            await asyncio.sleep(3.0 + count / 500.0)
            _raise_first_error(tasks)
            repolls_before = repolls
            async with ctx.cpu_window() as window:
                await asyncio.sleep(ctx.seconds)
            _raise_first_error(tasks)
            held = open_now
            idle_repolls = repolls - repolls_before
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    if held < count * 0.9:
        raise BadResponse(f"only {held} of {count} long-polls were open while idle")
    growth_kib = max(0.0, window.rss_after_mib * MIB - before.rss_kb)
    ctx.raw.update(
        {
            "polls": count,
            "held": held,
            "repolls_during_idle": idle_repolls,
            "repolls_total": repolls,
            "rss_before_kb": before.rss_kb,
            "rss_after_mib": window.rss_after_mib,
            "cpu_seconds": window.cpu_seconds,
        }
    )
    return [
        Metric("RSS per long-poll", "KiB", growth_kib / count, "lower"),
        Metric(f"RSS with {count} polls", "MiB", window.rss_after_mib, "lower"),
        Metric("server CPU while idle", "ms/s", window.cpu_seconds * 1000.0 / ctx.seconds, "lower"),
    ]


def _raise_first_error(tasks: list[asyncio.Task[None]]) -> None:
    """Re-raise the error of the first poll that ended with one (all should still wait)."""
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
        if task.done() and not task.cancelled():
            raise BadResponse("a long-poll loop ended without an error")


SCENARIO = Scenario("idle_longpolls", "2000 idle /sync long-polls", run, max_repeats=2)

"""``/versions`` and ``whoami`` under ``wrk`` (see :mod:`ranvier_bench.wrk`): the same
endpoints as the ``versions`` and ``whoami`` scenarios, without the aiohttp client's overhead,
so throughput and CPU per request reflect the server. One answer is checked with the bench
client first; wrk then counts non-2xx answers and socket errors, and any of either fails the
scenario. Skipped when wrk is not installed.
"""

from __future__ import annotations

from ..client import CLIENT, BadResponse
from ..context import RunContext
from ..results import Metric
from ..wrk import WrkReport, run_wrk, wrk_path
from .base import Scenario, Skip


async def _measure(ctx: RunContext, path: str, headers: dict[str, str]) -> list[Metric]:
    if wrk_path() is None:
        raise Skip("wrk is not installed (apt-get install wrk)")
    async with ctx.cpu_window() as window:
        report: WrkReport = await run_wrk(
            ctx.server.base_url + path,
            seconds=ctx.seconds,
            connections=ctx.concurrency,
            headers=headers,
        )
    if report.non_2xx or report.socket_errors:
        raise BadResponse(
            f"wrk {path}: {report.non_2xx} non-2xx answers, {report.socket_errors} socket errors"
        )
    if report.requests == 0:
        raise BadResponse(f"wrk {path}: no request completed")
    ctx.raw.update(
        {
            "requests": report.requests,
            "seconds": report.seconds,
            "percentiles_ms": report.percentiles_ms,
            "cpu_seconds": window.cpu_seconds,
        }
    )
    return [
        Metric("throughput", "req/s", report.throughput, "higher"),
        Metric("p50 latency", "ms", report.percentiles_ms.get(50.0, float("nan")), "lower"),
        Metric("p99 latency", "ms", report.percentiles_ms.get(99.0, float("nan")), "lower"),
        Metric("server CPU", "ms/req", window.cpu_seconds * 1000.0 / report.requests, "lower"),
        Metric("peak RSS", "MiB", window.peak_rss_mib, "lower"),
    ]


async def run_versions(ctx: RunContext) -> list[Metric]:
    """wrk against ``/_matrix/client/versions``."""
    answer = await ctx.api.call("GET", "/_matrix/client/versions")
    if not isinstance(answer.get("versions"), list):
        raise BadResponse(f"/versions: {answer!r}")
    return await _measure(ctx, "/_matrix/client/versions", {})


async def run_whoami(ctx: RunContext) -> list[Metric]:
    """wrk against ``/account/whoami`` with one account's access token."""
    (account,) = await ctx.accounts(1)
    await ctx.api.whoami(account)
    return await _measure(
        ctx, f"{CLIENT}/account/whoami", {"Authorization": f"Bearer {account.access_token}"}
    )


VERSIONS = Scenario("versions_wrk", "GET /versions (wrk, 1 thread)", run_versions)
WHOAMI = Scenario("whoami_wrk", "GET /account/whoami (wrk, 1 thread)", run_whoami)

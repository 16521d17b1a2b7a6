"""``GET /_matrix/client/versions`` under load: the cheapest endpoint, so mostly the cost of the
HTTP stack itself (spec client-server-api "GET /_matrix/client/versions").

Time-bounded with ``--concurrency`` keep-alive connections from the aiohttp client; every
answer must be a JSON object with a ``versions`` list of strings (a server that implements no
complete spec version yet may honestly send an empty list).
"""

from __future__ import annotations

from ..client import BadResponse
from ..context import RunContext
from ..results import Metric
from .base import Scenario


async def run(ctx: RunContext) -> list[Metric]:
    """Hammer ``/versions`` for ``--seconds`` and report the standard metrics."""

    async def op(_: int) -> None:
        answer = await ctx.api.call("GET", "/_matrix/client/versions")
        versions = answer.get("versions")
        if not isinstance(versions, list):
            raise BadResponse(f"/versions: no versions list: {answer!r}")
        if not all(isinstance(v, str) for v in versions):
            raise BadResponse(f"/versions: non-string version in {versions!r}")

    return await ctx.measure(op, max_ops=ctx.n(1_000_000))


SCENARIO = Scenario("versions", "GET /versions (aiohttp client)", run)

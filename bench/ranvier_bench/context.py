"""What a scenario gets to work with in one run: the server, a client, sizes, accounts, and
the standard way to measure a workload.

:meth:`RunContext.measure` is the common measurement: reset the server tree's peak RSS, read
its CPU ticks, run the load (see :mod:`.load`), read again, and return the standard metrics
(throughput, p50 and p99 latency, server CPU per operation, peak RSS during the workload).
The raw figures go to ``ctx.raw`` which the runner stores in the results file.

:meth:`RunContext.cpu_window` gives the same before/after reading for scenarios whose unit of
work is not one timed call (sync delivery latency, idle long-polls).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from . import procstats
from .client import Account, Api
from .load import LoadResult, run_load
from .results import Metric
from .servers import ServerProcess
from .stats import percentile

PASSWORD = "bench-password-Uq3v"
MIB = 1024.0


@dataclass(slots=True)
class CpuWindow:
    """CPU seconds and peak RSS of the server tree over a ``with`` block."""

    cpu_seconds: float = 0.0
    cpu_ticks: int = 0
    peak_rss_mib: float = 0.0
    rss_after_mib: float = 0.0


@dataclass(slots=True)
class RunContext:
    """State shared by the scenarios of one run of one server."""

    server: ServerProcess
    api: Api
    repeat: int
    scale: float = 1.0
    seconds: float = 5.0
    concurrency: int = 10
    start_sample: procstats.TreeSample | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    shared: dict[str, Any] = field(default_factory=dict)
    accounts_made: list[Account] = field(default_factory=list)
    peak_reset_ok: bool = True
    user_seq: int = 0

    @property
    def name(self) -> str:
        """The server's name (``synapse`` or ``ranvier``)."""
        return self.server.name

    def n(self, base: int, minimum: int = 1) -> int:
        """``base`` scaled by ``--scale``, at least ``minimum``."""
        return max(minimum, round(base * self.scale))

    def new_localpart(self) -> str:
        """A localpart not used before in this run."""
        self.user_seq += 1
        return f"bench_u{self.user_seq}"

    async def accounts(self, count: int, concurrency: int = 4) -> list[Account]:
        """At least ``count`` registered, logged-in accounts (registered on first need)."""
        missing = count - len(self.accounts_made)
        if missing > 0:
            made: list[Account | None] = [None] * missing

            async def register(i: int) -> None:
                made[i] = await self.api.register(self.new_localpart(), PASSWORD)

            await run_load(register, concurrency=concurrency, max_ops=missing, max_seconds=3600)
            self.accounts_made.extend(a for a in made if a is not None)
        return self.accounts_made[:count]

    @contextlib.asynccontextmanager
    async def cpu_window(self) -> AsyncIterator[CpuWindow]:
        """Measure the server tree's CPU and peak RSS over the block."""
        window = CpuWindow()
        self.peak_reset_ok = procstats.reset_peak_rss(self.server.pid) and self.peak_reset_ok
        before = self.server.sample()
        yield window
        after = self.server.sample()
        window.cpu_ticks = after.cpu_ticks - before.cpu_ticks
        window.cpu_seconds = window.cpu_ticks / procstats.CLOCK_TICKS
        window.peak_rss_mib = after.hwm_kb / MIB
        window.rss_after_mib = after.rss_kb / MIB

    async def measure(
        self,
        op: Callable[[int], Awaitable[None]],
        *,
        max_ops: int,
        max_seconds: float | None = None,
        concurrency: int | None = None,
        unit: str = "req",
        cpu_target: float | None = None,
        latency_target: float | None = None,
    ) -> list[Metric]:
        """Run ``op`` under load and return the standard metrics for it."""
        async with self.cpu_window() as window:
            result = await run_load(
                op,
                concurrency=concurrency or self.concurrency,
                max_ops=max_ops,
                max_seconds=max_seconds or self.seconds,
            )
        if result.ops == 0:
            raise RuntimeError("no operation completed")
        self.raw.update(_raw(result, window))
        return standard_metrics(result, window, unit, cpu_target, latency_target)


def standard_metrics(
    result: LoadResult,
    window: CpuWindow,
    unit: str,
    cpu_target: float | None = None,
    latency_target: float | None = None,
) -> list[Metric]:
    """Throughput, p50/p99 latency (ms), CPU ms per operation and peak RSS (MiB)."""
    lat_ms = [x * 1000.0 for x in result.latencies]
    return [
        Metric("throughput", f"{unit}/s", result.throughput, "higher"),
        Metric("p50 latency", "ms", percentile(lat_ms, 50), "lower", latency_target),
        Metric("p99 latency", "ms", percentile(lat_ms, 99), "lower"),
        Metric(
            "server CPU",
            f"ms/{unit}",
            window.cpu_seconds * 1000.0 / result.ops,
            "lower",
            cpu_target,
        ),
        Metric("peak RSS", "MiB", window.peak_rss_mib, "lower"),
    ]


def _raw(result: LoadResult, window: CpuWindow) -> dict[str, Any]:
    return {
        "ops": result.ops,
        "wall_seconds": result.wall_seconds,
        "cpu_ticks": window.cpu_ticks,
        "cpu_seconds": window.cpu_seconds,
        "clock_ticks_per_second": procstats.CLOCK_TICKS,
        "peak_rss_mib": window.peak_rss_mib,
        "rss_after_mib": window.rss_after_mib,
        "latency_ms": {
            p: percentile([x * 1000.0 for x in result.latencies], p) for p in (0, 50, 90, 99, 100)
        },
    }

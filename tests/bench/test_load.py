"""The load driver's bounds and failure behaviour (no timing assertions)."""

from __future__ import annotations

import asyncio

import pytest
from ranvier_bench.load import run_load


async def test_count_bound_and_concurrency() -> None:
    in_flight = 0
    peak = 0
    seen: list[int] = []

    async def op(i: int) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001)
        seen.append(i)
        in_flight -= 1

    result = await run_load(op, concurrency=4, max_ops=37, max_seconds=60)
    assert result.ops == 37
    assert sorted(seen) == list(range(37))
    assert len(result.latencies) == 37
    assert peak == 4
    assert result.throughput > 0


async def test_time_bound_stops_an_endless_count() -> None:
    async def op(_: int) -> None:
        await asyncio.sleep(0.005)

    result = await run_load(op, concurrency=2, max_ops=10**9, max_seconds=0.1)
    assert 0 < result.ops < 10**9
    assert result.wall_seconds < 5


async def test_first_error_cancels_the_rest() -> None:
    started: list[int] = []

    async def op(i: int) -> None:
        started.append(i)
        if i == 5:
            raise RuntimeError("wrong answer")
        await asyncio.sleep(0.01)

    with pytest.raises(RuntimeError, match="wrong answer"):
        await run_load(op, concurrency=3, max_ops=1000, max_seconds=60)
    assert len(started) < 20


@pytest.mark.parametrize(("c", "n", "s"), [(0, 1, 1.0), (1, 0, 1.0), (1, 1, 0.0)])
async def test_rejects_non_positive_bounds(c: int, n: int, s: float) -> None:
    async def op(_: int) -> None:
        return None

    with pytest.raises(ValueError):
        await run_load(op, concurrency=c, max_ops=n, max_seconds=s)

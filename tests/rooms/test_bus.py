"""The in-process bus: typed topics, ordered delivery per subscriber, isolation."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from ranvier.bus import Bus, LocalBus, Topic


@dataclass(frozen=True)
class Ping:
    n: int


PINGS: Topic[Ping] = Topic("test.pings", Ping)
OTHER: Topic[Ping] = Topic("test.other", Ping)


async def test_each_subscriber_gets_every_message_in_order() -> None:
    bus: Bus = LocalBus()
    a: list[int] = []
    b: list[int] = []

    async def slow(p: Ping) -> None:
        await asyncio.sleep(0.001 * (p.n % 3))
        a.append(p.n)

    async def fast(p: Ping) -> None:
        b.append(p.n)

    bus.subscribe(PINGS, slow)
    bus.subscribe(PINGS, fast)
    for i in range(20):
        await bus.publish(PINGS, Ping(i))
    await bus.publish(OTHER, Ping(99))
    await bus.close()
    assert a == b == list(range(20))


async def test_wrong_type_is_refused_and_failing_handler_does_not_stop_delivery() -> None:
    bus = LocalBus()
    got: list[int] = []

    async def flaky(p: Ping) -> None:
        if p.n == 1:
            raise RuntimeError("boom")
        got.append(p.n)

    bus.subscribe(PINGS, flaky)
    with pytest.raises(TypeError):
        await bus.publish(PINGS, "not a ping")
    for i in range(3):
        await bus.publish(PINGS, Ping(i))
    await bus.close()
    assert got == [0, 2]


async def test_cancelled_subscription_receives_nothing_more() -> None:
    bus = LocalBus()
    got: list[int] = []

    async def handler(p: Ping) -> None:
        got.append(p.n)

    sub = bus.subscribe(PINGS, handler)
    await bus.publish(PINGS, Ping(1))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    sub.cancel()
    await bus.publish(PINGS, Ping(2))
    await bus.close()
    assert got == [1]

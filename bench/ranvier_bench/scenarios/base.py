"""The shape of a scenario: a name, a title, and an async ``run(ctx) -> list[Metric]``.

A scenario module defines one :class:`Scenario` called ``SCENARIO``. ``run`` drives the server
only through the Client-Server API (``ctx.api``), checks every answer, and returns its metrics;
it raises :class:`~ranvier_bench.client.NotImplementedByServer` (via the client) when the server
lacks an endpoint, and any other exception when an answer is wrong. ``max_repeats`` limits
costly scenarios to the first N repeats; ``timeout`` bounds the scenario's wall time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..context import RunContext
from ..results import Metric


class Skip(Exception):
    """Raised by a scenario that cannot run here (e.g. a missing tool): reported as skipped."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """One benchmark scenario."""

    name: str
    title: str
    run: Callable[[RunContext], Awaitable[list[Metric]]]
    max_repeats: int | None = None
    timeout: float = 300.0

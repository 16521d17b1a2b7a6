"""Fixtures of the federation tests: the peers a test starts (stopped after it), and
the database of each peer, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from tests.db_fixtures import fresh_postgres_database
from tests.federation.peers import Peer

# The peer names a test may look up in ``databases`` (most tests start ``a`` and ``b``;
# a few start a third and a fourth peer, or a notary ``n``).
PEER_NAMES = ("a", "b", "c", "d", "n")


async def _stop_all(started: list[Peer]) -> None:
    """Stop the peers still in ``started`` (emptying it, so none is stopped twice)."""
    while started:
        await started.pop(0).stop()


@pytest.fixture
async def peers() -> AsyncIterator[list[Peer]]:
    """The peers a test started (it appends them); each is stopped afterwards."""
    started: list[Peer] = []
    yield started
    await _stop_all(started)


@pytest.fixture(params=["sqlite", "postgres"])
async def databases(
    request: pytest.FixtureRequest, peers: list[Peer]
) -> AsyncIterator[dict[str, str | None]]:
    """Database of each peer by name (:data:`PEER_NAMES`): SQLite files in the peer's
    directory (None), or a fresh PostgreSQL schema each, kept for the whole test so that
    a restarted peer finds its data again (an empty schema costs ~10 ms to make and drop).

    The peers are stopped before the schemas are dropped: a stopping server still
    writes (buffered counters, queues), and pytest would otherwise tear this fixture
    down first whenever a test names ``peers`` before ``databases``."""
    if request.param == "sqlite":
        yield dict.fromkeys(PEER_NAMES)
        return
    async with AsyncExitStack() as stack:
        yield {
            name: await stack.enter_async_context(fresh_postgres_database()) for name in PEER_NAMES
        }
        await _stop_all(peers)

"""Fixtures of the federation tests: the peers a test starts (stopped after it), and
the database of each of two peers, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.db_fixtures import fresh_postgres_database
from tests.federation.peers import Peer


@pytest.fixture
async def peers() -> AsyncIterator[list[Peer]]:
    """The peers a test started (it appends them); each is stopped afterwards."""
    started: list[Peer] = []
    yield started
    for peer in started:
        await peer.stop()


@pytest.fixture(params=["sqlite", "postgres"])
async def databases(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, str | None]]:
    """Database of each peer by name: SQLite files (None), or fresh PostgreSQL schemas."""
    if request.param == "sqlite":
        yield {"a": None, "b": None}
        return
    async with fresh_postgres_database() as a, fresh_postgres_database() as b:
        yield {"a": a, "b": b}

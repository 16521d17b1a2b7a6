"""The ``database`` fixtures every store test uses: one test body, run on SQLite and PostgreSQL.

* ``database_url`` -- a connection string for a fresh, empty database: a file in
  ``tmp_path`` for SQLite, or a new schema ``ranvier_test_<hex>`` in the
  database named by ``RANVIER_TEST_POSTGRES``, selected through the DSN's
  ``search_path`` (dropped afterwards).
* ``postgres_url`` -- the PostgreSQL case alone, for PostgreSQL-only tests.
* ``raw_database`` -- that database opened, without migrations (migration tests).
* ``database`` -- that database opened and migrated to the current schema.

Each is parametrised over ``["sqlite", "postgres"]``; the PostgreSQL case is
skipped locally (a failure under CI) when the server is not configured.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import pytest

from ranvier.db import Database, open_database
from ranvier.db.migrations import migrate
from tests.conftest import need_service


def _with_search_path(dsn: str, schema: str) -> str:
    """``dsn`` with ``options=-csearch_path=<schema>`` (understood by libpq and asyncpg)."""
    parts = urlsplit(dsn)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


async def _admin_execute(dsn: str, sql: str) -> None:
    con = await asyncpg.connect(dsn)
    try:
        await con.execute(sql)
    finally:
        await con.close()


@asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    """Make an empty schema ``ranvier_test_<hex>``, yield a DSN that uses it, then drop it.

    A schema per test rather than a database per test: on this machine
    ``CREATE DATABASE`` costs ~650 ms and ``CREATE SCHEMA`` ~5 ms, and every
    store test in the project pays it. The DSN sets ``search_path`` so all
    unqualified names (tables, indexes, sequences, types) live in the schema.
    """
    server = need_service("RANVIER_TEST_POSTGRES", "PostgreSQL")
    name = f"ranvier_test_{secrets.token_hex(6)}"
    await _admin_execute(server, f'CREATE SCHEMA "{name}"')
    try:
        yield _with_search_path(server, name)
    finally:
        await _admin_execute(server, f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A connection string for a fresh empty database of each kind."""
    if request.param == "sqlite":
        yield f"file:{tmp_path / 'ranvier.sqlite'}"
        return
    async with fresh_postgres_database() as url:
        yield url


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh empty PostgreSQL database, for tests of PostgreSQL-only behaviour."""
    async with fresh_postgres_database() as url:
        yield url


@pytest.fixture
async def raw_database(database_url: str) -> AsyncIterator[Database]:
    """A fresh database of each kind, opened but not migrated."""
    db = await open_database(database_url)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
async def database(raw_database: Database) -> Database:
    """A fresh database of each kind with every migration applied."""
    await migrate(raw_database)
    return raw_database

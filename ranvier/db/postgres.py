"""The PostgreSQL driver: an asyncpg connection pool behind the portable interface.

Theory of operation: every :class:`PostgresDatabase` call borrows a pooled
connection for one statement (autocommit), and
``async with db.transaction() as conn`` holds one connection for a
``BEGIN ... COMMIT`` (asyncpg's ``Connection.transaction()``, READ COMMITTED).
SQL is already in PostgreSQL style, so it is sent unchanged and asyncpg
prepares and caches each statement per connection.

Pool settings follow Dendrite's ``database`` config section:

* ``max_open_conns``: the most connections open at once (the pool's size);
  callers beyond that wait for a free connection.
* ``max_idle_conns``: connections kept open while idle (the pool's floor);
  connections above it close after ``conn_max_idle_seconds`` unused.
* ``conn_max_lifetime_seconds``: a connection older than this is closed the
  next time it is borrowed and replaced by a fresh one (``<= 0``: no limit),
  so a server restart or failover is picked up without a ranvier restart.

asyncpg's exceptions are translated into :mod:`ranvier.db.api`'s portable
ones (``23505`` becomes :class:`~ranvier.db.api.UniqueViolation`, any other
``23xxx`` :class:`~ranvier.db.api.IntegrityError`). The optional
``on_query(seconds)`` hook is called after every statement.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from ranvier.db.api import Connection, DatabaseError, Dialect, IntegrityError, Row, UniqueViolation

QueryHook = Callable[[float], None]
_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError)


def map_error(exc: BaseException) -> DatabaseError:
    """Translate an asyncpg exception into the portable hierarchy."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        return UniqueViolation(str(exc))
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return IntegrityError(str(exc))
    return DatabaseError(f"{type(exc).__name__}: {exc}")


def rowcount(status: str) -> int:
    """Rows changed according to a command status tag such as ``INSERT 0 3``."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class _Statements:
    """The statement methods shared by :class:`PostgresDatabase` (each statement on a
    borrowed connection, autocommit) and :class:`_PgConnection` (each inside the
    held transaction, seeing its writes). Subclasses define :meth:`_call`, which runs
    one asyncpg method, maps its errors and reports its time to the query hook."""

    async def _call(self, method: str, sql: str, args: Sequence[Any]) -> Any:
        raise NotImplementedError

    async def execute(self, sql: str, *args: Any) -> int:
        """Run one statement; return the rows changed."""
        return rowcount(await self._call("execute", sql, args))

    async def executemany(self, sql: str, args: Sequence[Sequence[Any]]) -> None:
        """Run ``sql`` once per argument tuple; asyncpg makes this atomic."""
        await self._call("executemany", sql, (args,))

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        """First row of a query (or of ``INSERT ... RETURNING``), or None."""
        record = await self._call("fetchrow", sql, args)
        return None if record is None else tuple(record)

    async def fetchall(self, sql: str, *args: Any) -> list[Row]:
        """All rows of a query."""
        return [tuple(r) for r in await self._call("fetch", sql, args)]


class PostgresDatabase(_Statements):
    """A :class:`~ranvier.db.api.Database` on a PostgreSQL server. Build with :meth:`open`."""

    dialect: Dialect = "postgres"

    def __init__(
        self, pool: Any, *, on_query: QueryHook | None, max_lifetime: float, born: dict[int, float]
    ) -> None:
        self._pool = pool
        self._on_query = on_query
        self._max_lifetime = max_lifetime
        self._born = born
        self.recycled = 0
        """Connections closed because they outlived ``conn_max_lifetime_seconds``."""

    @classmethod
    async def open(
        cls,
        dsn: str,
        *,
        max_open_conns: int = 10,
        max_idle_conns: int = 2,
        conn_max_lifetime_seconds: float = -1,
        conn_max_idle_seconds: float = 300,
        on_query: QueryHook | None = None,
    ) -> PostgresDatabase:
        """Connect a pool to ``dsn`` (``postgres://`` or ``postgresql://``)."""
        if max_open_conns < 1:
            raise ValueError("max_open_conns must be at least 1")
        born: dict[int, float] = {}

        async def init(con: Any) -> None:
            born[con.get_server_pid()] = time.monotonic()

        try:
            pool = await asyncpg.create_pool(
                dsn,
                min_size=max(0, min(max_idle_conns, max_open_conns)),
                max_size=max_open_conns,
                max_inactive_connection_lifetime=max(0.0, conn_max_idle_seconds),
                init=init,
            )
        except (*_ERRORS, OSError) as exc:
            raise DatabaseError(f"cannot connect to PostgreSQL: {exc}") from exc
        return cls(pool, on_query=on_query, max_lifetime=conn_max_lifetime_seconds, born=born)

    @property
    def pool_size(self) -> int:
        """Connections currently open (busy or idle)."""
        size: int = self._pool.get_size()
        return size

    async def _acquire(self) -> Any:
        """Borrow a connection, replacing any that outlived the maximum lifetime."""
        while True:
            try:
                con = await self._pool.acquire()
            except _ERRORS as exc:
                raise map_error(exc) from exc
            if self._max_lifetime <= 0:
                return con
            pid = con.get_server_pid()
            born = self._born.get(pid)
            if born is None or time.monotonic() - born <= self._max_lifetime:
                return con
            del self._born[pid]
            self.recycled += 1
            try:
                await con.close()
            finally:
                await self._pool.release(con)

    async def _call(self, method: str, sql: str, args: Sequence[Any]) -> Any:
        start = time.perf_counter()
        con = await self._acquire()
        try:
            return await getattr(con, method)(sql, *args)
        except _ERRORS as exc:
            raise map_error(exc) from exc
        finally:
            await self._pool.release(con)
            if self._on_query is not None:
                self._on_query(time.perf_counter() - start)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """Hold one pooled connection for ``BEGIN ... COMMIT`` (ROLLBACK on error)."""
        con = await self._acquire()
        try:
            async with con.transaction():
                yield _PgConnection(con, self._on_query)
        except _ERRORS as exc:
            raise map_error(exc) from exc
        finally:
            await self._pool.release(con)

    def set_query_hook(self, hook: QueryHook | None) -> None:
        """Install (or remove) the ``on_query(seconds)`` hook after opening: the
        server's metrics registry is built after the database it measures."""
        self._on_query = hook

    async def close(self) -> None:
        """Close every pooled connection (waits for borrowed ones to come back)."""
        await self._pool.close()


class _PgConnection(_Statements):
    """The ``conn`` of ``async with db.transaction() as conn`` on PostgreSQL."""

    def __init__(self, con: Any, on_query: QueryHook | None) -> None:
        self._con = con
        self._on_query = on_query

    async def _call(self, method: str, sql: str, args: Sequence[Any]) -> Any:
        start = time.perf_counter()
        try:
            return await getattr(self._con, method)(sql, *args)
        except _ERRORS as exc:
            raise map_error(exc) from exc
        finally:
            if self._on_query is not None:
                self._on_query(time.perf_counter() - start)

    async def executescript(self, script: str) -> None:
        """Run a multi-statement script (simple query protocol, no parameters)."""
        await self._call("execute", script, ())

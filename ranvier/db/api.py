"""The one async interface every store uses, whatever the database.

SQL is written once, in PostgreSQL style with ``$1, $2`` placeholders; the
SQLite driver rewrites placeholders. Rows come back as tuples. Where the
dialects differ, a store picks the statement by :attr:`Database.dialect`
(``"sqlite"`` or ``"postgres"``), and migrations use dialect-suffixed files.

Writes that must be atomic go through :meth:`Database.transaction`; on SQLite
all writes are funnelled through a single writer thread which group-commits,
and reads run directly on the event loop (bounded point reads).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal, Protocol

Row = tuple[Any, ...]
Dialect = Literal["sqlite", "postgres"]


class Connection(Protocol):
    """Statements inside one transaction."""

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; return the number of rows changed."""
        ...

    async def executemany(self, sql: str, args: Sequence[Sequence[Any]]) -> None:
        """Run a statement once per argument tuple."""
        ...

    async def fetchone(self, sql: str, *args: Any) -> Row | None: ...

    async def fetchall(self, sql: str, *args: Any) -> list[Row]: ...


class Database(Protocol):
    """A connection pool (PostgreSQL) or a reader/writer pair (SQLite)."""

    dialect: Dialect

    async def execute(self, sql: str, *args: Any) -> int:
        """Run one write statement in its own transaction."""
        ...

    async def fetchone(self, sql: str, *args: Any) -> Row | None: ...

    async def fetchall(self, sql: str, *args: Any) -> list[Row]: ...

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """``async with db.transaction() as conn:`` commits on success, rolls back on error."""
        ...

    async def close(self) -> None: ...

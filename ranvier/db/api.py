"""The one async interface every store uses, whatever the database.

SQL is written once, in PostgreSQL style with ``$1, $2`` placeholders; the
SQLite driver rewrites placeholders. Rows come back as tuples. Where the
dialects differ, a store picks the statement by :attr:`Database.dialect`
(``"sqlite"`` or ``"postgres"``), and migrations use dialect-suffixed files.

Writes that must be atomic go through :meth:`Database.transaction`; on SQLite
all writes are funnelled through a single writer thread which group-commits,
and reads run directly on the event loop (bounded point reads).

Errors are portable: both drivers raise :class:`DatabaseError` and its
subclasses, never a driver's own exception type, so a store can write
``except UniqueViolation:`` once for both databases. The driver's original
exception is kept as ``__cause__``.

Portable semantics a store can rely on:

* A failed statement inside :meth:`Database.transaction` poisons the
  transaction on both databases (PostgreSQL's rule): later statements raise
  :class:`DatabaseError` and the block must end by raising. Use
  ``INSERT ... ON CONFLICT`` instead of catching a violation mid-transaction.
* Booleans come back as ``bool`` on PostgreSQL and ``0``/``1`` on SQLite;
  compare with truthiness. ``BYTEA``/``BLOB`` columns come back as ``bytes``.
* ``fetchone``/``fetchall`` on the :class:`Database` may run ``INSERT ...
  RETURNING``: each driver sends statements that write to its writer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal, Protocol

Row = tuple[Any, ...]
Dialect = Literal["sqlite", "postgres"]


class DatabaseError(Exception):
    """Any failure reported by the database or its driver."""


class IntegrityError(DatabaseError):
    """A constraint was violated (unique, foreign key, not null, check)."""


class UniqueViolation(IntegrityError):
    """A UNIQUE or PRIMARY KEY constraint was violated: the row already exists."""


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

    async def executescript(self, script: str) -> None:
        """Run several ``;``-separated statements without parameters (used by migrations)."""
        ...


class Database(Protocol):
    """A connection pool (PostgreSQL) or a reader/writer pair (SQLite)."""

    dialect: Dialect

    async def execute(self, sql: str, *args: Any) -> int:
        """Run one write statement in its own transaction."""
        ...

    async def executemany(self, sql: str, args: Sequence[Sequence[Any]]) -> None:
        """Run one statement per argument tuple, all in one transaction."""
        ...

    async def fetchone(self, sql: str, *args: Any) -> Row | None: ...

    async def fetchall(self, sql: str, *args: Any) -> list[Row]: ...

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """``async with db.transaction() as conn:`` commits on success, rolls back on error."""
        ...

    def set_query_hook(self, hook: Callable[[float], None] | None) -> None:
        """Call ``hook(seconds)`` on the event loop after every statement (metrics)."""
        ...

    async def close(self) -> None: ...

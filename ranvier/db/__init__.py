"""Storage: one async database interface over SQLite and PostgreSQL, plus migrations.

How the package works:

* :mod:`ranvier.db.api` -- the ``Database``/``Connection`` Protocols every store
  codes against, and the portable exceptions (``UniqueViolation`` ...).
* :mod:`ranvier.db.sqlite` -- reads on the event loop, writes group-committed by
  a single writer thread (see its theory of operation).
* :mod:`ranvier.db.postgres` -- an asyncpg pool. Imported only when a PostgreSQL
  database is opened (or ``ranvier.db.PostgresDatabase`` is named): asyncpg costs
  about 4 MiB of memory that a server on SQLite does not need.
* :mod:`ranvier.db.migrations` -- versioned ``schema/NNNN_name[.dialect].sql``
  files applied in order, each in its own transaction.
* :mod:`ranvier.db.meta` -- the ``kv_meta`` table for server-wide metadata.

:func:`open_database` picks the driver from the connection string, using the
same strings as Dendrite: ``postgres://...``/``postgresql://...`` or
``file:PATH`` (a plain path and ``:memory:`` work too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ranvier.db.api import (
    Connection,
    Database,
    DatabaseError,
    Dialect,
    IntegrityError,
    Row,
    UniqueViolation,
)
from ranvier.db.sqlite import QueryHook, SqliteDatabase

if TYPE_CHECKING:
    from ranvier.db.postgres import PostgresDatabase

__all__ = [
    "Connection",
    "Database",
    "DatabaseError",
    "Dialect",
    "IntegrityError",
    "PostgresDatabase",
    "QueryHook",
    "Row",
    "SqliteDatabase",
    "UniqueViolation",
    "is_postgres_url",
    "open_database",
]


def __getattr__(name: str) -> Any:
    """``PostgresDatabase`` on first use (PEP 562), so asyncpg loads only when needed."""
    if name == "PostgresDatabase":
        from ranvier.db.postgres import PostgresDatabase

        return PostgresDatabase
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_postgres_url(connection_string: str) -> bool:
    """Whether ``connection_string`` names a PostgreSQL server rather than a SQLite file."""
    return connection_string.startswith(("postgres://", "postgresql://"))


async def open_database(
    connection_string: str,
    *,
    max_open_conns: int = 10,
    max_idle_conns: int = 2,
    conn_max_lifetime_seconds: float = -1,
    on_query: QueryHook | None = None,
) -> Database:
    """Open the database named by ``connection_string`` (no migrations are run).

    The pool settings apply to PostgreSQL only; SQLite always uses one reader
    and one writer connection. ``on_query(seconds)`` is called on the event
    loop after each statement, for metrics.
    """
    if is_postgres_url(connection_string):
        from ranvier.db.postgres import PostgresDatabase

        return await PostgresDatabase.open(
            connection_string,
            max_open_conns=max_open_conns,
            max_idle_conns=max_idle_conns,
            conn_max_lifetime_seconds=conn_max_lifetime_seconds,
            on_query=on_query,
        )
    return await SqliteDatabase.open(connection_string, on_query=on_query)

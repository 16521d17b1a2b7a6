"""CRUD, errors and transactions through the portable interface, on both databases."""

from __future__ import annotations

import asyncio

import pytest

from ranvier.db import Database, DatabaseError, IntegrityError, UniqueViolation

TABLE = "CREATE TABLE items (id BIGINT PRIMARY KEY NOT NULL, name TEXT NOT NULL UNIQUE, data BYTEA)"
TABLE_SQLITE = (
    "CREATE TABLE items (id BIGINT PRIMARY KEY NOT NULL, name TEXT NOT NULL UNIQUE, data BLOB)"
)


async def make_items(db: Database) -> None:
    await db.execute(TABLE if db.dialect == "postgres" else TABLE_SQLITE)


async def test_crud_round_trip(database: Database) -> None:
    await make_items(database)
    assert await database.execute("INSERT INTO items VALUES ($1, $2, $3)", 1, "a", b"\x00\xff") == 1
    assert await database.fetchone("SELECT id, name, data FROM items WHERE id = $1", 1) == (
        1,
        "a",
        b"\x00\xff",
    )
    assert await database.fetchone("SELECT id FROM items WHERE id = $1", 2) is None
    assert await database.execute("UPDATE items SET name = $2 WHERE id = $1", 1, "b") == 1
    assert await database.execute("UPDATE items SET name = $2 WHERE id = $1", 9, "z") == 0
    assert await database.fetchall("SELECT name FROM items") == [("b",)]
    assert await database.execute("DELETE FROM items WHERE id = $1", 1) == 1
    assert await database.fetchall("SELECT name FROM items") == []


async def test_placeholders_ten_and_repeated(database: Database) -> None:
    """``$10`` is the tenth argument (not ``$1`` then ``0``); ``$1`` may appear twice."""
    cols = "abcdefghij"
    await database.execute(f"CREATE TABLE p ({', '.join(c + ' TEXT' for c in cols)})")
    # Columns listed in reverse so that $10 lands in column a.
    await database.execute(
        f"INSERT INTO p ({', '.join(reversed(cols))}) VALUES"
        f" ({', '.join(f'${i}' for i in range(1, 11))})",
        *[f"v{i}" for i in range(1, 11)],
    )
    assert await database.fetchone("SELECT a, j, i FROM p") == ("v10", "v1", "v2")
    row = await database.fetchone("SELECT a FROM p WHERE a = $1 OR j = $1", "v1")
    assert row == ("v10",)


async def test_placeholder_inside_literal_is_not_a_parameter(database: Database) -> None:
    await make_items(database)
    await database.execute("INSERT INTO items (id, name) VALUES ($1, '$1 and ''$2''')", 7)
    assert await database.fetchone("SELECT name FROM items WHERE id = $1", 7) == ("$1 and '$2'",)
    row = await database.fetchone(
        "SELECT id FROM items WHERE name = '$1 and ''$2''' AND id = $1 -- $2\n", 7
    )
    assert row == (7,)


async def test_unique_violation_is_portable(database: Database) -> None:
    await make_items(database)
    await database.execute("INSERT INTO items (id, name) VALUES ($1, $2)", 1, "a")
    with pytest.raises(UniqueViolation):
        await database.execute("INSERT INTO items (id, name) VALUES ($1, $2)", 1, "other")
    with pytest.raises(UniqueViolation):
        await database.execute("INSERT INTO items (id, name) VALUES ($1, $2)", 2, "a")
    with pytest.raises(IntegrityError) as info:
        await database.execute("INSERT INTO items (id, name) VALUES ($1, NULL)", 3)
    assert not isinstance(info.value, UniqueViolation)
    with pytest.raises(DatabaseError):
        await database.fetchone("SELECT no_such_column FROM items")
    assert await database.fetchall("SELECT id FROM items") == [(1,)]


async def test_on_conflict_and_returning(database: Database) -> None:
    await make_items(database)
    upsert = (
        "INSERT INTO items (id, name) VALUES ($1, $2)"
        " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name RETURNING id, name"
    )
    assert await database.fetchone(upsert, 1, "a") == (1, "a")
    assert await database.fetchone(upsert, 1, "b") == (1, "b")
    skip = "INSERT INTO items (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING"
    assert await database.execute(skip, 1, "c") == 0
    assert await database.fetchall("SELECT id, name FROM items") == [(1, "b")]


async def test_transaction_commits_and_sees_own_writes(database: Database) -> None:
    await make_items(database)
    async with database.transaction() as conn:
        await conn.execute("INSERT INTO items (id, name) VALUES ($1, $2)", 1, "a")
        await conn.executemany("INSERT INTO items (id, name) VALUES ($1, $2)", [(2, "b"), (3, "c")])
        assert await conn.fetchone("SELECT COUNT(*) FROM items") == (3,)
        assert await conn.fetchall("SELECT name FROM items ORDER BY id") == [
            ("a",),
            ("b",),
            ("c",),
        ]
    assert await database.fetchone("SELECT COUNT(*) FROM items") == (3,)


async def test_transaction_rolls_back_on_exception(database: Database) -> None:
    await make_items(database)
    await database.execute("INSERT INTO items (id, name) VALUES ($1, $2)", 1, "kept")

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with database.transaction() as conn:
            await conn.execute("INSERT INTO items (id, name) VALUES ($1, $2)", 2, "lost")
            await conn.execute("UPDATE items SET name = $1 WHERE id = $2", "changed", 1)
            raise Boom
    assert await database.fetchall("SELECT id, name FROM items") == [(1, "kept")]
    # The writer is free again afterwards.
    await database.execute("INSERT INTO items (id, name) VALUES ($1, $2)", 3, "after")
    assert await database.fetchone("SELECT COUNT(*) FROM items") == (2,)


async def test_failed_statement_poisons_transaction(database: Database) -> None:
    """After an error inside a transaction nothing more runs and nothing is stored."""
    await make_items(database)
    await database.execute("INSERT INTO items (id, name) VALUES ($1, $2)", 1, "a")
    with pytest.raises(UniqueViolation):
        async with database.transaction() as conn:
            await conn.execute("INSERT INTO items (id, name) VALUES ($1, $2)", 2, "b")
            try:
                await conn.execute("INSERT INTO items (id, name) VALUES ($1, $2)", 3, "a")
            except UniqueViolation:
                with pytest.raises(DatabaseError):
                    await conn.execute("INSERT INTO items (id, name) VALUES ($1, $2)", 4, "d")
                raise
    assert await database.fetchall("SELECT id FROM items") == [(1,)]


async def test_cancelled_transaction_leaves_nothing(database: Database) -> None:
    await make_items(database)
    entered = asyncio.Event()

    async def writer() -> None:
        async with database.transaction() as conn:
            await conn.execute("INSERT INTO items (id, name) VALUES ($1, $2)", 1, "a")
            entered.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(writer())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await database.fetchall("SELECT id FROM items") == []
    assert await database.execute("INSERT INTO items (id, name) VALUES ($1, $2)", 2, "b") == 1


async def test_executemany_is_all_or_nothing(database: Database) -> None:
    await make_items(database)
    with pytest.raises(UniqueViolation):
        await database.executemany(
            "INSERT INTO items (id, name) VALUES ($1, $2)", [(1, "a"), (2, "b"), (3, "a")]
        )
    assert await database.fetchall("SELECT id FROM items") == []
    await database.executemany("INSERT INTO items (id, name) VALUES ($1, $2)", [(1, "a"), (2, "b")])
    assert await database.fetchone("SELECT COUNT(*) FROM items") == (2,)


async def test_reads_on_loop_see_committed_writes(database: Database) -> None:
    await make_items(database)
    for i in range(20):
        await database.execute("INSERT INTO items (id, name) VALUES ($1, $2)", i, f"n{i}")
        assert await database.fetchone("SELECT name FROM items WHERE id = $1", i) == (f"n{i}",)
    async with database.transaction() as conn:
        await conn.execute("UPDATE items SET name = $1 WHERE id = $2", "new", 0)
    assert await database.fetchone("SELECT name FROM items WHERE id = $1", 0) == ("new",)


async def test_on_query_hook_counts_statements(database_url: str) -> None:
    from ranvier.db import open_database

    timings: list[float] = []
    db = await open_database(database_url, on_query=timings.append)
    try:
        await db.execute("CREATE TABLE t (x BIGINT)")
        await db.execute("INSERT INTO t VALUES ($1)", 1)
        await db.fetchone("SELECT x FROM t")
        async with db.transaction() as conn:
            await conn.fetchall("SELECT x FROM t")
    finally:
        await db.close()
    assert len(timings) == 4
    assert all(t > 0 for t in timings)


async def test_closed_database_refuses(database_url: str) -> None:
    from ranvier.db import open_database

    db = await open_database(database_url)
    await db.close()
    with pytest.raises(DatabaseError):
        await db.execute("CREATE TABLE t (x BIGINT)")


async def test_unbindable_argument_fails_only_its_statement(database: Database) -> None:
    """An integer beyond 64 bits is refused as a DatabaseError; the database keeps working."""
    await make_items(database)
    with pytest.raises(DatabaseError):
        await database.execute("INSERT INTO items (id, name) VALUES ($1, $2)", 2**70, "big")
    with pytest.raises(DatabaseError):
        await database.fetchone("SELECT name FROM items WHERE id = $1", 2**70)
    with pytest.raises(DatabaseError):
        async with database.transaction() as conn:
            await conn.execute("INSERT INTO items (id, name) VALUES ($1, $2)", 1, "a")
            await conn.execute("INSERT INTO items (id, name) VALUES ($1, $2)", 2**70, "big")
    assert await database.execute("INSERT INTO items (id, name) VALUES ($1, $2)", 2, "ok") == 1
    assert await database.fetchall("SELECT id FROM items") == [(2,)]


async def test_connection_unusable_after_transaction(database: Database) -> None:
    await make_items(database)
    async with database.transaction() as conn:
        await conn.execute("INSERT INTO items (id, name) VALUES ($1, $2)", 1, "a")
    with pytest.raises(DatabaseError):
        await conn.execute("INSERT INTO items (id, name) VALUES ($1, $2)", 2, "b")
    assert await database.fetchall("SELECT id FROM items") == [(1,)]

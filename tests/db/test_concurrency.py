"""Concurrent writers, group commit, isolation between a transaction and other readers."""

from __future__ import annotations

import asyncio

from ranvier.db import Database, SqliteDatabase, UniqueViolation


async def make_table(db: Database) -> None:
    await db.execute("CREATE TABLE w (id BIGINT PRIMARY KEY NOT NULL, who TEXT NOT NULL)")


async def test_200_concurrent_inserts_all_land(database: Database) -> None:
    await make_table(database)
    commits_before = database.stats.commits if isinstance(database, SqliteDatabase) else 0

    async def insert(i: int) -> int:
        return await database.execute("INSERT INTO w (id, who) VALUES ($1, $2)", i, f"c{i}")

    results = await asyncio.gather(*(insert(i) for i in range(200)))
    assert results == [1] * 200
    assert await database.fetchone("SELECT COUNT(*), SUM(id) FROM w") == (200, sum(range(200)))
    if isinstance(database, SqliteDatabase):
        commits = database.stats.commits - commits_before
        # Group commit: the 200 writes shared far fewer COMMITs.
        assert 1 <= commits < 200
        assert database.stats.largest_batch > 1


async def test_failing_write_in_batch_does_not_fail_the_others(database: Database) -> None:
    await make_table(database)
    await database.execute("INSERT INTO w (id, who) VALUES ($1, $2)", 5, "first")
    batches_before = database.stats.largest_batch if isinstance(database, SqliteDatabase) else 0
    started = asyncio.Event()
    release = asyncio.Event()

    async def hold_writer() -> None:
        # On SQLite this occupies the writer thread so the inserts below queue
        # up and are executed as one batch when it ends.
        async with database.transaction() as conn:
            await conn.execute("INSERT INTO w (id, who) VALUES ($1, $2)", 1000, "holder")
            started.set()
            await release.wait()

    holder = asyncio.create_task(hold_writer())
    await started.wait()
    tasks = [
        asyncio.create_task(database.execute("INSERT INTO w (id, who) VALUES ($1, $2)", i, "b"))
        for i in range(10)
    ]
    await asyncio.sleep(0.05)
    release.set()
    await holder
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(outcomes[5], UniqueViolation)
    assert [o for i, o in enumerate(outcomes) if i != 5] == [1] * 9
    rows = await database.fetchall("SELECT id, who FROM w ORDER BY id")
    assert rows == [(i, "b") for i in range(5)] + [(5, "first")] + [
        (i, "b") for i in range(6, 10)
    ] + [(1000, "holder")]
    if isinstance(database, SqliteDatabase):
        # The 10 queued writes (one of them failing) really shared a batch.
        assert database.stats.largest_batch >= max(batches_before, 10)


async def test_uncommitted_writes_are_invisible_to_other_readers(database: Database) -> None:
    await make_table(database)
    async with database.transaction() as conn:
        await conn.execute("INSERT INTO w (id, who) VALUES ($1, $2)", 1, "t")
        assert await conn.fetchone("SELECT who FROM w WHERE id = $1", 1) == ("t",)
        assert await database.fetchone("SELECT who FROM w WHERE id = $1", 1) is None
    assert await database.fetchone("SELECT who FROM w WHERE id = $1", 1) == ("t",)


async def test_concurrent_transactions_serialise_read_modify_write(database: Database) -> None:
    """Counter increments in 30 concurrent transactions lose no update."""
    await database.execute("CREATE TABLE counter (k TEXT PRIMARY KEY NOT NULL, n BIGINT NOT NULL)")
    await database.execute("INSERT INTO counter VALUES ($1, $2)", "c", 0)
    lock = "" if database.dialect == "sqlite" else " FOR UPDATE"

    async def bump() -> None:
        async with database.transaction() as conn:
            row = await conn.fetchone(f"SELECT n FROM counter WHERE k = $1{lock}", "c")
            assert row is not None
            await asyncio.sleep(0)
            await conn.execute("UPDATE counter SET n = $1 WHERE k = $2", row[0] + 1, "c")

    await asyncio.gather(*(bump() for _ in range(30)))
    assert await database.fetchone("SELECT n FROM counter WHERE k = $1", "c") == (30,)


async def test_mixed_reads_and_writes_under_load(database: Database) -> None:
    await make_table(database)

    async def worker(base: int) -> None:
        for i in range(base, base + 20):
            await database.execute("INSERT INTO w (id, who) VALUES ($1, $2)", i, "m")
            assert await database.fetchone("SELECT who FROM w WHERE id = $1", i) == ("m",)

    await asyncio.gather(*(worker(b * 100) for b in range(10)))
    assert await database.fetchone("SELECT COUNT(*) FROM w") == (200,)


async def test_write_returning_through_fetch(database: Database) -> None:
    await make_table(database)
    rows = await database.fetchall(
        "INSERT INTO w (id, who) VALUES ($1, 'r'), ($2, 'r'), ($3, 'r') RETURNING id", 1, 2, 3
    )
    assert sorted(rows) == [(1,), (2,), (3,)]
    row = await database.fetchone(
        "WITH s AS (SELECT id FROM w WHERE id > $1) SELECT COUNT(*) FROM s", 1
    )
    assert row == (2,)
    deleted = await database.fetchall("DELETE FROM w WHERE id >= $1 RETURNING who", 2)
    assert deleted == [("r",), ("r",)]
    assert await database.fetchone("SELECT COUNT(*) FROM w") == (1,)

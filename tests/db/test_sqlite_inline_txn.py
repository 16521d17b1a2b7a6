"""SQLite transactions (``ranvier.db.sqlite`` theory of operation): run by the loop itself
when the writer thread is idle, their small statements on the loop and large batches on a
thread, both kinds in order; a failure in either poisons the transaction; writes of
other tasks wait for the COMMIT; a second connection holding SQLite's write lock sends
the transaction to the writer thread instead of stalling the loop; the writer thread
checkpoints the WAL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ranvier.db import DatabaseError, SqliteDatabase, UniqueViolation
from ranvier.db.sqlite import INLINE_MANY_MAX


async def open_db(tmp_path: Path) -> SqliteDatabase:
    db = await SqliteDatabase.open(f"file:{tmp_path / 'inline.db'}")
    await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    await writer_idle(db)
    return db


async def writer_idle(db: SqliteDatabase) -> None:
    """Wait until the writer thread has finished its last batch and let go of the writer
    connection: only then does a new transaction run inline (right after an ``execute``
    returns, the thread may still be releasing the lock, and the queued path is taken)."""
    for _ in range(400):
        if not db._busy and db._queue.empty() and db._wlock.acquire(blocking=False):
            db._wlock.release()
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the SQLite writer thread stayed busy")


async def test_inline_and_threaded_statements_keep_their_order(tmp_path: Path) -> None:
    db = await open_db(tmp_path)
    big = [(i, "big") for i in range(100, 100 + 3 * INLINE_MANY_MAX)]
    other = asyncio.get_running_loop().create_future()
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO t VALUES ($1, $2)", 1, "first")
        # Another task's write queues behind the open transaction.
        waiting = asyncio.ensure_future(db.execute("INSERT INTO t VALUES ($1, $2)", 2, "other"))
        waiting.add_done_callback(lambda _f: other.set_result(None))
        await conn.executemany("INSERT INTO t VALUES ($1, $2)", big)  # on the thread
        await conn.executemany("INSERT INTO t VALUES ($1, $2)", [(3, "small")])  # inline
        assert await conn.fetchone("SELECT COUNT(*) FROM t") == (2 + len(big),)
        await asyncio.sleep(0.05)
        assert not other.done()
    await waiting
    assert await db.fetchone("SELECT COUNT(*) FROM t") == (3 + len(big),)
    assert db.stats.transactions == db.stats.inline_transactions == 1
    await db.close()


@pytest.mark.parametrize("rows", [1, 3 * INLINE_MANY_MAX])
async def test_failure_on_either_side_poisons(tmp_path: Path, rows: int) -> None:
    db = await open_db(tmp_path)
    await db.execute("INSERT INTO t VALUES ($1, $2)", 0, "kept")
    dup = [(i, "x") for i in range(1, rows)] + [(0, "dup")]
    with pytest.raises(UniqueViolation):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES ($1, $2)", -1, "lost")
            with pytest.raises(UniqueViolation):
                await conn.executemany("INSERT INTO t VALUES ($1, $2)", dup)
            with pytest.raises(DatabaseError, match="aborted"):
                await conn.execute("INSERT INTO t VALUES ($1, $2)", -2, "ignored")
            with pytest.raises(DatabaseError, match="aborted"):
                await conn.executemany("INSERT INTO t VALUES ($1, $2)", dup[:-1] * 2)
    assert await db.fetchall("SELECT id, v FROM t") == [(0, "kept")]
    await db.execute("INSERT INTO t VALUES ($1, $2)", 5, "after")  # the writer carries on
    await db.close()


async def test_write_lock_held_elsewhere_does_not_stall_the_loop(tmp_path: Path) -> None:
    first = await open_db(tmp_path)
    second = await SqliteDatabase.open(f"file:{tmp_path / 'inline.db'}")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    tick_task = asyncio.ensure_future(ticker())
    try:
        async with first.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES ($1, $2)", 1, "first")
            # The second database cannot get SQLite's write lock now: its transaction
            # waits on its writer thread while the loop (and this transaction) go on.
            waiting = asyncio.ensure_future(_insert_in_transaction(second, 2))
            await asyncio.sleep(0.1)
            assert not waiting.done()
            assert ticks >= 5  # the loop was never blocked
        await waiting
        assert await second.fetchall("SELECT id FROM t ORDER BY id") == [(1,), (2,)]
        assert first.stats.inline_transactions == 1
        assert second.stats.transactions == 1 and second.stats.inline_transactions == 0
    finally:
        tick_task.cancel()
        await first.close()
        await second.close()


async def _insert_in_transaction(db: SqliteDatabase, value: int) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO t VALUES ($1, $2)", value, "second")


async def test_writer_thread_checkpoints_the_wal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ranvier.db.sqlite as driver

    monkeypatch.setattr(driver, "CHECKPOINT_EVERY", 10)
    db = await open_db(tmp_path)
    for i in range(45):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES ($1, $2)", i, "x" * 2000)
    for _ in range(100):
        if db.stats.checkpoints >= 4:
            break
        await asyncio.sleep(0.01)
    assert db.stats.checkpoints >= 4
    assert db.stats.transactions == 45 and db.stats.inline_transactions >= 1
    await db.close()

"""SQLite transactions run their small statements on the loop and large batches on the
writer thread (``ranvier.db.sqlite`` theory of operation): both kinds interleave in
order, a failure in either poisons the transaction, and group-committed writes of
other tasks wait for the COMMIT."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ranvier.db import DatabaseError, SqliteDatabase, UniqueViolation
from ranvier.db.sqlite import INLINE_MANY_MAX


async def open_db(tmp_path: Path) -> SqliteDatabase:
    db = await SqliteDatabase.open(f"file:{tmp_path / 'inline.db'}")
    await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    return db


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
    assert db.stats.transactions == 1
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

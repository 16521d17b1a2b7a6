"""PostgreSQL-only behaviour: the pool's size limit and connection lifetime."""

from __future__ import annotations

import asyncio
import time

from ranvier.db import PostgresDatabase, open_database


async def test_pool_bounds_concurrency(postgres_url: str) -> None:
    db = await open_database(postgres_url, max_open_conns=4, max_idle_conns=1)
    assert isinstance(db, PostgresDatabase)
    try:
        start = time.perf_counter()
        pids = await asyncio.gather(
            *(db.fetchone("SELECT pg_backend_pid() FROM pg_sleep(0.05)") for _ in range(16))
        )
        elapsed = time.perf_counter() - start
        # 16 sleeps of 50 ms through 4 connections need at least 4 rounds.
        assert elapsed >= 0.19
        assert len({p for p in pids if p is not None}) <= 4
        assert db.pool_size <= 4
    finally:
        await db.close()


async def test_concurrent_transactions_on_pool(postgres_url: str) -> None:
    db = await open_database(postgres_url, max_open_conns=5)
    try:
        await db.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, grp BIGINT NOT NULL)")

        async def txn(g: int) -> None:
            async with db.transaction() as conn:
                for i in range(5):
                    await conn.execute("INSERT INTO t VALUES ($1, $2)", g * 10 + i, g)
                await asyncio.sleep(0.01)

        await asyncio.gather(*(txn(g) for g in range(20)))
        assert await db.fetchone("SELECT COUNT(*), COUNT(DISTINCT grp) FROM t") == (100, 20)
    finally:
        await db.close()


async def test_connection_max_lifetime_recycles(postgres_url: str) -> None:
    db = await open_database(
        postgres_url, max_open_conns=1, max_idle_conns=1, conn_max_lifetime_seconds=0.2
    )
    assert isinstance(db, PostgresDatabase)
    try:
        first = await db.fetchone("SELECT pg_backend_pid()")
        assert await db.fetchone("SELECT pg_backend_pid()") == first
        await asyncio.sleep(0.3)
        second = await db.fetchone("SELECT pg_backend_pid()")
        assert second != first
        assert db.recycled == 1
    finally:
        await db.close()

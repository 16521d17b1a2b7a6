"""SQLite-only behaviour of the driver: connection strings, pragmas, writer queue, close."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from ranvier.db import DatabaseError, IntegrityError, SqliteDatabase, open_database


async def test_memory_database_is_private_and_removed(tmp_path: Path) -> None:
    a = await open_database(":memory:")
    b = await open_database(":memory:")
    assert isinstance(a, SqliteDatabase) and a._tmpdir is not None
    tmpdir = a._tmpdir
    try:
        await a.execute("CREATE TABLE t (x BIGINT)")
        await a.execute("INSERT INTO t VALUES ($1)", 1)
        assert await a.fetchall("SELECT x FROM t") == [(1,)]
        with pytest.raises(DatabaseError):
            await b.fetchall("SELECT x FROM t")
    finally:
        await a.close()
        await b.close()
    assert not os.path.exists(tmpdir)


@pytest.mark.parametrize("form", ["plain", "file", "uri"])
async def test_connection_string_forms(tmp_path: Path, form: str) -> None:
    path = tmp_path / "x.db"
    url = {"plain": str(path), "file": f"file:{path}", "uri": f"file:{path}?mode=rwc"}[form]
    db = await open_database(url)
    try:
        await db.execute("CREATE TABLE t (x BIGINT)")
    finally:
        await db.close()
    assert path.exists()
    again = await open_database(f"file:{path}")
    try:
        assert await again.fetchall("SELECT name FROM sqlite_master") == [("t",)]
    finally:
        await again.close()


async def test_pragmas(tmp_path: Path) -> None:
    db = await SqliteDatabase.open(f"file:{tmp_path / 'p.db'}")
    try:
        assert await db.fetchone("PRAGMA journal_mode") == ("wal",)
        assert await db.fetchone("PRAGMA foreign_keys") == (1,)
        async with db.transaction() as conn:
            # synchronous is per connection: check the writer's (1 = NORMAL).
            assert await conn.fetchone("PRAGMA synchronous") == (1,)
            assert await conn.fetchone("PRAGMA foreign_keys") == (1,)
    finally:
        await db.close()


async def test_foreign_keys_enforced(tmp_path: Path) -> None:
    db = await SqliteDatabase.open(f"file:{tmp_path / 'fk.db'}")
    try:
        await db.execute("CREATE TABLE p (id INTEGER PRIMARY KEY)")
        await db.execute("CREATE TABLE c (pid INTEGER NOT NULL REFERENCES p (id))")
        with pytest.raises(IntegrityError):
            await db.execute("INSERT INTO c VALUES ($1)", 1)
    finally:
        await db.close()


async def test_writes_wait_for_open_transaction(tmp_path: Path) -> None:
    db = await SqliteDatabase.open(f"file:{tmp_path / 'w.db'}")
    try:
        await db.execute("CREATE TABLE t (x BIGINT)")
        order: list[str] = []
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES ($1)", 1)
            pending = asyncio.create_task(db.execute("INSERT INTO t VALUES ($1)", 2))
            await asyncio.sleep(0.05)
            assert not pending.done()  # the writer belongs to this transaction
            order.append("commit")
        await pending
        order.append("write")
        assert order == ["commit", "write"]
        assert await db.fetchall("SELECT x FROM t ORDER BY x") == [(1,), (2,)]
        assert db.stats.transactions == 1
    finally:
        await db.close()


async def test_close_finishes_queued_writes(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    db = await SqliteDatabase.open(f"file:{path}")
    await db.execute("CREATE TABLE t (x BIGINT)")
    tasks = [asyncio.create_task(db.execute("INSERT INTO t VALUES ($1)", i)) for i in range(50)]
    await asyncio.sleep(0)  # let every task queue its write
    await db.close()
    assert all(t.done() and t.result() == 1 for t in tasks)
    again = await SqliteDatabase.open(f"file:{path}")
    try:
        assert await again.fetchone("SELECT COUNT(*) FROM t") == (50,)
    finally:
        await again.close()


async def test_reader_is_not_pinned_to_an_old_snapshot(tmp_path: Path) -> None:
    """Reads close their statements, so every read sees the latest commit."""
    db = await SqliteDatabase.open(f"file:{tmp_path / 's.db'}")
    try:
        await db.execute("CREATE TABLE t (x BIGINT)")
        await db.executemany("INSERT INTO t VALUES ($1)", [(i,) for i in range(10)])
        assert await db.fetchone("SELECT x FROM t ORDER BY x") == (0,)  # rows left unread
        await db.execute("DELETE FROM t WHERE x = $1", 0)
        assert await db.fetchone("SELECT x FROM t ORDER BY x") == (1,)
    finally:
        await db.close()


async def test_self_deadlock_is_refused(tmp_path: Path) -> None:
    """Writing through the database (not ``conn``) inside a transaction would hang: refused."""
    db = await SqliteDatabase.open(f"file:{tmp_path / 'd.db'}")
    try:
        await db.execute("CREATE TABLE t (x BIGINT)")
        async with db.transaction() as conn:
            with pytest.raises(DatabaseError, match="deadlock"):
                await db.execute("INSERT INTO t VALUES ($1)", 1)
            with pytest.raises(DatabaseError, match="nest"):
                async with db.transaction():
                    pass
            await conn.execute("INSERT INTO t VALUES ($1)", 2)
            # Reads on the loop are fine (they see the last commit).
            assert await db.fetchall("SELECT x FROM t") == []
        await db.execute("INSERT INTO t VALUES ($1)", 3)  # allowed again afterwards
        assert await db.fetchall("SELECT x FROM t ORDER BY x") == [(2,), (3,)]
    finally:
        await db.close()


async def test_reader_connection_cannot_write(tmp_path: Path) -> None:
    db = await SqliteDatabase.open(f"file:{tmp_path / 'r.db'}")
    try:
        await db.execute("CREATE TABLE t (x BIGINT)")
        with pytest.raises(DatabaseError):
            db._read("INSERT INTO t VALUES (1)", (), False)
    finally:
        await db.close()


async def test_slow_transaction_is_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import ranvier.db.sqlite as driver

    monkeypatch.setattr(driver, "SLOW_TRANSACTION_SECONDS", 0.02)
    db = await SqliteDatabase.open(f"file:{tmp_path / 'slow.db'}")
    try:
        with caplog.at_level("WARNING", logger="ranvier.db.sqlite"):
            async with db.transaction() as conn:
                await conn.execute("CREATE TABLE t (x BIGINT)")
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO t VALUES ($1)", 1)
                await asyncio.sleep(0.05)
            await db.execute("INSERT INTO t VALUES ($1)", 2)  # the writer moved on
    finally:
        await db.close()
    warnings = [r for r in caplog.records if "held the writer" in r.getMessage()]
    assert len(warnings) >= 1  # the 50 ms one (a slow machine may add the first)

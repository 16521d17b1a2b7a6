"""Crash safety: a process killed inside a transaction leaves only what it had committed."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

from ranvier.db import open_database

CHILD = textwrap.dedent(
    """
    import asyncio, os, sys
    from ranvier.db import open_database

    async def main(url: str) -> None:
        db = await open_database(url)
        await db.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT NOT NULL)")
        await db.execute("INSERT INTO t VALUES ($1, $2)", 1, "committed")
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES ($1, $2)", 2, "in flight")
            await conn.executemany(
                "INSERT INTO t VALUES ($1, $2)", [(i, "x" * 4000) for i in range(3, 2000)]
            )
            await conn.execute("UPDATE t SET v = $1 WHERE id = $2", "overwritten", 1)
            print("inside", flush=True)
            os._exit(9)  # no rollback, no close: the process just dies

    asyncio.run(main(sys.argv[1]))
    """
)


async def test_killed_mid_transaction_keeps_only_commits(database_url: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        database_url,
        stdout=asyncio.subprocess.PIPE,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 9
    assert out == b"inside\n"
    db = await open_database(database_url)
    try:
        assert await db.fetchall("SELECT id, v FROM t") == [(1, "committed")]
        # The database is fully usable afterwards.
        await db.execute("INSERT INTO t VALUES ($1, $2)", 2, "after")
        assert await db.fetchone("SELECT COUNT(*) FROM t") == (2,)
    finally:
        await db.close()

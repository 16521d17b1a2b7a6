"""Benchmark the SQLite driver: group-committed writes and point reads on the loop.

Usage: ``.venv/bin/python bench/bench_db.py [--writes N] [--reads N] [--dir DIR]``

Prints, for a fresh database file in ``--dir`` (default: the system temp dir):

* writes/s with 50 concurrent writer coroutines (group commit shares COMMITs),
* writes/s with one writer awaiting each write in turn (one COMMIT per write),
* the number of COMMITs and the mean batch size for the concurrent run,
* point reads/s (primary-key SELECT on the event loop) and the mean latency.

Runs on uvloop when it is installed, as the server does.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time

from ranvier.db import SqliteDatabase

SCHEMA = "CREATE TABLE bench (id BIGINT PRIMARY KEY NOT NULL, room TEXT NOT NULL, body TEXT)"
INSERT = "INSERT INTO bench (id, room, body) VALUES ($1, $2, $3)"
BODY = '{"msgtype":"m.text","body":"' + "x" * 200 + '"}'


async def concurrent_writes(db: SqliteDatabase, n: int, writers: int, base: int) -> float:
    """Seconds for ``n`` inserts spread over ``writers`` coroutines."""
    per = n // writers

    async def writer(w: int) -> None:
        start_id = base + w * per
        for i in range(start_id, start_id + per):
            await db.execute(INSERT, i, f"!room{w}:example.org", BODY)

    start = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    return time.perf_counter() - start


async def point_reads(db: SqliteDatabase, n: int, rows: int) -> float:
    """Seconds for ``n`` primary-key lookups on the loop."""
    start = time.perf_counter()
    for i in range(n):
        row = await db.fetchone("SELECT room, body FROM bench WHERE id = $1", (i * 7919) % rows)
        assert row is not None
    return time.perf_counter() - start


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = os.path.join(tmp, "bench.sqlite")
        db = await SqliteDatabase.open(f"file:{path}")
        try:
            await db.execute(SCHEMA)
            n = args.writes
            c0 = db.stats.commits
            t_conc = await concurrent_writes(db, n, 50, 0)
            commits = db.stats.commits - c0
            t_seq = await concurrent_writes(db, n, 1, n)
            total = 2 * n
            t_read = await point_reads(db, args.reads, total)
        finally:
            await db.close()
    print(f"SQLite {path} (file in {args.dir or tempfile.gettempdir()})")
    print(f"concurrent writes (50 writers): {n / t_conc:10.0f} writes/s")
    print(f"  COMMITs: {commits}  mean batch: {n / max(commits, 1):.1f} writes")
    print(f"sequential writes (1 writer):   {n / t_seq:10.0f} writes/s")
    print(f"  group commit speed-up: {t_seq / t_conc:.2f}x")
    print(
        f"point reads on the loop:        {args.reads / t_read:10.0f} reads/s"
        f"  ({t_read / args.reads * 1e6:.1f} us each)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Benchmark the SQLite driver.")
    parser.add_argument("--writes", type=int, default=20000)
    parser.add_argument("--reads", type=int, default=100000)
    parser.add_argument("--dir", default=None, help="directory for the database file")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency
        asyncio.run(main(args))
    else:
        uvloop.run(main(args))

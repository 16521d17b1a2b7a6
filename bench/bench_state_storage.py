"""Benchmark: database bytes per event for a 500-member room with 10,000 messages.

Run: ``.venv/bin/python bench/bench_state_storage.py [--members 500] [--messages 10000]
[--postgres postgresql://postgres@127.0.0.1:5432/postgres]``

It creates a room (room version 12, public preset) through the room service, joins
``--members`` local users one by one (each join is a state event; the room state grows
to ~members entries), then sends ``--messages`` messages from rotating senders. It
prints, per table and in total, the bytes the database uses and that figure divided by
the number of events: on SQLite from the ``dbstat`` virtual table and the file size,
on PostgreSQL from ``pg_total_relation_size`` (tables with their indexes and TOAST).
The state tables (``state_snapshots`` + ``state_blocks``) are what would grow with
events x room size in a full-copy-per-event design: 10,500 events x 500 entries would
be ~5 million rows; here they stay a few hundred KB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg

from ranvier.bus import LocalBus
from ranvier.core.signing import generate_signing_key
from ranvier.db import Database, open_database
from ranvier.db.migrations import migrate
from ranvier.rooms.aliases import AliasStore
from ranvier.rooms.membership import MembershipService
from ranvier.rooms.pipeline import RoomInput
from ranvier.rooms.service import RoomService
from ranvier.rooms.storage import RoomStorage

SERVER = "bench.example"
TABLES = [
    "events",
    "state_snapshots",
    "state_blocks",
    "event_type_nids",
    "state_key_nids",
    "room_memberships",
    "room_forward_extremities",
    "rooms",
]


async def fill(db: Database, members: int, messages: int) -> int:
    """Create the room and its traffic; return the number of events."""
    storage = RoomStorage(db)
    bus = LocalBus()
    pipeline = RoomInput(storage, bus, SERVER, generate_signing_key("bench"))
    service = RoomService(storage, pipeline, AliasStore(db), SERVER)
    membership = MembershipService(service)
    creator = f"@creator:{SERVER}"
    room_id = await service.create_room(creator, preset="public_chat", name="bench")
    users = [f"@user{i}:{SERVER}" for i in range(members)]
    t0 = time.perf_counter()
    for user in users:
        await membership.join(room_id, user)
    t1 = time.perf_counter()
    for i in range(messages):
        await service.send_event(
            room_id,
            users[i % members],
            "m.room.message",
            {"msgtype": "m.text", "body": f"message number {i} with some ordinary text"},
        )
    t2 = time.perf_counter()
    await bus.close()
    print(
        f"  joins: {members / (t1 - t0):.0f}/s, messages: {messages / (t2 - t1):.0f}/s "
        "(sequential, one transaction each)"
    )
    row = await db.fetchone("SELECT COUNT(*) FROM events")
    assert row is not None
    return int(row[0])


def report(sizes: dict[str, int], total: int, events: int) -> None:
    """Print bytes and bytes per event."""
    for table, size in sizes.items():
        print(f"  {table:26s} {size:>12,d} B  {size / events:>8.1f} B/event")
    state = sizes.get("state_snapshots", 0) + sizes.get("state_blocks", 0)
    print(f"  {'state (snapshots+blocks)':26s} {state:>12,d} B  {state / events:>8.1f} B/event")
    print(f"  {'whole database':26s} {total:>12,d} B  {total / events:>8.1f} B/event")


async def run_sqlite(members: int, messages: int) -> None:
    """Measure on a fresh SQLite file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite"
        db = await open_database(f"file:{path}")
        await migrate(db)
        events = await fill(db, members, messages)
        sizes: dict[str, int] = {}
        for table in TABLES:
            row = await db.fetchone(
                "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name = $1 OR name IN"
                " (SELECT name FROM sqlite_master WHERE tbl_name = $1 AND type = 'index')",
                table,
            )
            sizes[table] = int(row[0]) if row else 0
        await db.close()  # the last connection to close checkpoints the WAL
        wal = path.with_name(path.name + "-wal")
        total = os.path.getsize(path) + (os.path.getsize(wal) if wal.exists() else 0)
        print(f"SQLite: {events} events, {members} members")
        report(sizes, total, events)


async def run_postgres(dsn: str, members: int, messages: int) -> None:
    """Measure in a fresh schema of the PostgreSQL database ``dsn``."""
    schema = f"ranvier_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        sep = "&" if "?" in dsn else "?"
        db = await open_database(f"{dsn}{sep}options=-csearch_path%3D{schema}")
        await migrate(db)
        events = await fill(db, members, messages)
        await db.close()
        for t in TABLES:  # what autovacuum would reclaim (forward extremities churn)
            await admin.execute(f'VACUUM ANALYZE "{schema}".{t}')
        sizes = {
            t: int(await admin.fetchval(f"SELECT pg_total_relation_size('\"{schema}\".{t}')"))
            for t in TABLES
        }
        total = int(
            await admin.fetchval(
                "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = $1 AND c.relkind = 'r'",
                schema,
            )
        )
        print(f"PostgreSQL: {events} events, {members} members")
        report(sizes, total, events)
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


def main() -> None:
    """Parse arguments and run the measurements."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--postgres", default=os.environ.get("RANVIER_TEST_POSTGRES", ""))
    args = parser.parse_args()
    asyncio.run(run_sqlite(args.members, args.messages))
    if args.postgres:
        asyncio.run(run_postgres(args.postgres, args.members, args.messages))


if __name__ == "__main__":
    main()

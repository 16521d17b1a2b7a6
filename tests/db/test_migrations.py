"""Schema migrations: order, idempotence, upgrades with data, refusal, atomicity."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ranvier.db import Database, IntegrityError, open_database
from ranvier.db.migrations import (
    SCHEMA_DIR,
    MigrationError,
    SchemaTooNew,
    applied_versions,
    load_migrations,
    migrate,
    pending_migrations,
)

PEOPLE_0001 = "CREATE TABLE people (id BIGINT PRIMARY KEY NOT NULL, name TEXT NOT NULL);\n"
PEOPLE_0002 = (
    "-- add a lower-cased copy of the name; back-fill it; index it\n"
    "ALTER TABLE people ADD COLUMN name_lower TEXT;\n"
    "UPDATE people SET name_lower = LOWER(name);\n"
    "CREATE INDEX people_name_lower ON people (name_lower);\n"
)


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


async def test_shipped_migrations_apply_once(raw_database: Database) -> None:
    known = [m.version for m in load_migrations()]
    assert known and known[0] == 1 and known == sorted(known)
    assert await migrate(raw_database) == known
    assert await migrate(raw_database) == []
    assert await applied_versions(raw_database) == known
    rows = await raw_database.fetchall("SELECT version, name, applied_ts FROM schema_migrations")
    assert [r[0] for r in sorted(rows)] == known
    assert all(r[2] > 1_600_000_000_000 for r in rows)
    # 0001 made kv_meta.
    from ranvier.db.meta import delete_meta, get_meta, set_meta

    assert await get_meta(raw_database, "k") is None
    await set_meta(raw_database, "k", "v1")
    await set_meta(raw_database, "k", "v2")
    assert await get_meta(raw_database, "k") == "v2"
    assert await delete_meta(raw_database, "k")
    assert not await delete_meta(raw_database, "k")


async def test_upgrade_keeps_and_backfills_data(raw_database: Database, tmp_path: Path) -> None:
    v1 = write(tmp_path / "v1", {"0001_people.sql": PEOPLE_0001})
    assert await migrate(raw_database, v1) == [1]
    await raw_database.executemany(
        "INSERT INTO people (id, name) VALUES ($1, $2)", [(1, "Alice"), (2, "BOB")]
    )
    v2 = write(tmp_path / "v2", {"0001_people.sql": PEOPLE_0001, "0002_lower.sql": PEOPLE_0002})
    assert [m.version for m in await pending_migrations(raw_database, v2)] == [2]
    assert await migrate(raw_database, v2) == [2]
    rows = await raw_database.fetchall("SELECT id, name, name_lower FROM people ORDER BY id")
    assert rows == [(1, "Alice", "alice"), (2, "BOB", "bob")]
    assert await migrate(raw_database, v2) == []


async def test_dialect_specific_files(raw_database: Database, tmp_path: Path) -> None:
    d = write(
        tmp_path / "m",
        {
            "0001_seq.sqlite.sql": (
                "CREATE TABLE seq (id INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);"
            ),
            "0001_seq.postgres.sql": (
                "CREATE TABLE seq (id BIGSERIAL PRIMARY KEY, blob BYTEA NOT NULL);"
            ),
        },
    )
    assert await migrate(raw_database, d) == [1]
    first = await raw_database.fetchone("INSERT INTO seq (blob) VALUES ($1) RETURNING id", b"a")
    second = await raw_database.fetchone("INSERT INTO seq (blob) VALUES ($1) RETURNING id", b"b")
    assert first is not None and second is not None and second[0] > first[0]
    name = await raw_database.fetchone("SELECT name FROM schema_migrations WHERE version = 1")
    assert name == ("seq",)


async def test_gap_filled_by_later_component(raw_database: Database, tmp_path: Path) -> None:
    """A version below the highest applied one (another component's range) still runs."""
    a = write(
        tmp_path / "a",
        {"0001_people.sql": PEOPLE_0001, "0200_t.sql": "CREATE TABLE t200 (x BIGINT);"},
    )
    assert await migrate(raw_database, a) == [1, 200]
    b = write(tmp_path / "a", {"0101_t.sql": "CREATE TABLE t101 (x BIGINT);"})
    assert await migrate(raw_database, b) == [101]
    assert await applied_versions(raw_database) == [1, 101, 200]


async def test_refuses_newer_schema(raw_database: Database, tmp_path: Path) -> None:
    d = write(tmp_path / "m", {"0001_people.sql": PEOPLE_0001})
    await applied_versions(raw_database)  # creates the bookkeeping table
    await raw_database.execute(
        "INSERT INTO schema_migrations (version, name, applied_ts) VALUES ($1, $2, $3)",
        9999,
        "from_the_future",
        0,
    )
    with pytest.raises(SchemaTooNew, match="9999"):
        await migrate(raw_database, d)
    # Nothing was applied before refusing.
    assert await applied_versions(raw_database) == [9999]
    probe = (
        "SELECT COUNT(*) FROM sqlite_master WHERE name = $1"
        if raw_database.dialect == "sqlite"
        else "SELECT COUNT(*) FROM information_schema.tables"
        " WHERE table_name = $1 AND table_schema = current_schema()"
    )
    assert await raw_database.fetchone(probe, "people") == (0,)


async def test_failed_migration_leaves_nothing(raw_database: Database, tmp_path: Path) -> None:
    good = write(tmp_path / "m", {"0001_people.sql": PEOPLE_0001})
    await migrate(raw_database, good)
    await raw_database.execute("INSERT INTO people (id, name) VALUES ($1, $2)", 1, "x")
    write(
        tmp_path / "m",
        {
            "0002_broken.sql": (
                "CREATE TABLE half_done (x BIGINT);\n"
                "UPDATE people SET name = 'changed';\n"
                "INSERT INTO no_such_table VALUES (1);\n"
            )
        },
    )
    with pytest.raises(MigrationError, match="0002_broken"):
        await migrate(raw_database, good)
    assert await applied_versions(raw_database) == [1]
    assert await raw_database.fetchall("SELECT name FROM people") == [("x",)]
    probe = (
        "SELECT COUNT(*) FROM sqlite_master WHERE name = $1"
        if raw_database.dialect == "sqlite"
        else "SELECT COUNT(*) FROM information_schema.tables"
        " WHERE table_name = $1 AND table_schema = current_schema()"
    )
    assert await raw_database.fetchone(probe, "half_done") == (0,)


async def test_concurrent_migrators_apply_each_version_once(
    database_url: str, tmp_path: Path
) -> None:
    d = write(
        tmp_path / "m",
        {
            "0001_people.sql": PEOPLE_0001,
            "0002_lower.sql": PEOPLE_0002,
            "0003_more.sql": "CREATE TABLE more (x BIGINT);",
        },
    )
    dbs = [await open_database(database_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(db, d) for db in dbs))
        assert sorted(v for r in results for v in r) == [1, 2, 3]
        assert await applied_versions(dbs[0]) == [1, 2, 3]
    finally:
        for db in dbs:
            await db.close()


def test_file_set_validation(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="both"):
        load_migrations(write(tmp_path / "a", {"0001_x.sqlite.sql": "SELECT 1;"}))
    with pytest.raises(MigrationError, match="mixes"):
        load_migrations(
            write(tmp_path / "b", {"0001_x.sql": "SELECT 1;", "0001_x.postgres.sql": "SELECT 1;"})
        )
    with pytest.raises(MigrationError, match="different names"):
        load_migrations(write(tmp_path / "c", {"0001_x.sqlite.sql": "", "0001_y.postgres.sql": ""}))
    with pytest.raises(MigrationError, match="two migration files"):
        load_migrations(write(tmp_path / "g", {"0001_x.sql": "", "0001_y.sql": ""}))
    with pytest.raises(MigrationError, match="bad migration file name"):
        load_migrations(write(tmp_path / "d", {"1_x.sql": ""}))
    with pytest.raises(MigrationError, match="0001"):
        load_migrations(write(tmp_path / "e", {"0000_x.sql": ""}))
    ok = load_migrations(
        write(tmp_path / "f", {"0002_b.sql": "B", "0001_a.sql": "A", "README": "not sql"})
    )
    assert [(m.version, m.name, m.script("sqlite"), m.script("postgres")) for m in ok] == [
        (1, "a", "A", "A"),
        (2, "b", "B", "B"),
    ]


def test_shipped_schema_files_are_well_formed() -> None:
    migrations = load_migrations(SCHEMA_DIR)
    assert migrations[0].version == 1 and migrations[0].name == "kv_meta"


async def test_sqlite_rebuild_of_referenced_table(raw_database: Database, tmp_path: Path) -> None:
    """The documented way to rebuild a referenced SQLite table keeps data and foreign keys."""
    base = {
        "0001_rooms.sql": (
            "CREATE TABLE rooms (id BIGINT PRIMARY KEY NOT NULL, name TEXT NOT NULL);\n"
            "CREATE TABLE members (room BIGINT NOT NULL REFERENCES rooms (id), who TEXT);\n"
        )
    }
    d = write(tmp_path / "m", base)
    await migrate(raw_database, d)
    await raw_database.execute("INSERT INTO rooms VALUES ($1, $2)", 1, "r")
    await raw_database.execute("INSERT INTO members VALUES ($1, $2)", 1, "@a:x")
    write(
        d,
        {
            # Make name nullable: SQLite needs a rebuild, PostgreSQL an ALTER.
            "0002_nullable.sqlite.sql": (
                "CREATE TEMP TABLE members_copy AS SELECT * FROM members;\n"
                "DROP TABLE members;\n"
                "CREATE TABLE rooms_new (id BIGINT PRIMARY KEY NOT NULL, name TEXT);\n"
                "INSERT INTO rooms_new SELECT id, name FROM rooms;\n"
                "DROP TABLE rooms;\n"
                "ALTER TABLE rooms_new RENAME TO rooms;\n"
                "CREATE TABLE members (room BIGINT NOT NULL REFERENCES rooms (id), who TEXT);\n"
                "INSERT INTO members SELECT * FROM members_copy;\n"
                "DROP TABLE members_copy;\n"
            ),
            "0002_nullable.postgres.sql": "ALTER TABLE rooms ALTER COLUMN name DROP NOT NULL;\n",
        },
    )
    assert await migrate(raw_database, d) == [2]
    await raw_database.execute("INSERT INTO rooms VALUES ($1, NULL)", 2)
    assert await raw_database.fetchall("SELECT id, name FROM rooms ORDER BY id") == [
        (1, "r"),
        (2, None),
    ]
    assert await raw_database.fetchall("SELECT room, who FROM members") == [(1, "@a:x")]
    with pytest.raises(IntegrityError):
        await raw_database.execute("INSERT INTO members VALUES ($1, $2)", 99, "@b:x")

"""Versioned schema migrations, applied in order, each in its own transaction.

Files live in ``ranvier/db/schema/`` (or a directory passed in, for tests):

* ``NNNN_description.sql`` -- one script for both databases, or
* ``NNNN_description.sqlite.sql`` and ``NNNN_description.postgres.sql`` -- the
  same change written per dialect; a version has either one common file or both
  suffixed files, never a mix.

Version ranges keep components from colliding: 0001-0099 core bookkeeping,
0100-0199 accounts, later components take later hundreds.

Theory of operation: :func:`migrate` creates the bookkeeping table
``schema_migrations(version, name, applied_ts)`` if missing, then applies every
known version not recorded there, lowest first -- not only those above the
highest applied one, because with per-component ranges a new 0101 may arrive
after 0200 was applied. Each migration runs with its bookkeeping row in one
transaction (PostgreSQL DDL is transactional, and so is SQLite's: the SQLite
driver runs the script statement by statement inside ``BEGIN IMMEDIATE``
rather than with ``executescript``, which would commit). Inside that
transaction the version is checked again, and on PostgreSQL an advisory lock is
held, so two processes migrating at once apply each version exactly once. A
database that records a version this code does not know was written by a newer
ranvier: :func:`migrate` refuses with :class:`SchemaTooNew` before changing
anything.

Writing SQLite migrations: because each runs inside a transaction with
foreign keys enforced, ``PRAGMA foreign_keys`` cannot be switched off there,
and ``PRAGMA defer_foreign_keys`` does not help a rebuild (dropping a parent
table counts its children as violations even after the new table is renamed
into place). To rebuild a table that others reference, copy the referencing
tables aside and drop them first, rebuild the parent, then recreate and refill
the children (see ``test_sqlite_rebuild_of_referenced_table``). ``ALTER TABLE
... ADD COLUMN`` and ``CREATE INDEX`` need nothing special.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from ranvier.db.api import Connection, Database, DatabaseError, Dialect

SCHEMA_DIR = Path(__file__).parent / "schema"
_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+?)(?:\.(sqlite|postgres))?\.sql$")
_ADVISORY_LOCK_KEY = 0x72616E76  # "ranv": serialises migrators on one PostgreSQL database

_BOOKKEEPING = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY NOT NULL,"
    " name TEXT NOT NULL,"
    " applied_ts BIGINT NOT NULL)"
)


class MigrationError(DatabaseError):
    """The migration files are inconsistent, or a migration failed."""


class SchemaTooNew(MigrationError):
    """The database records migrations this version of ranvier does not know."""


@dataclass(frozen=True)
class Migration:
    """One schema version: its number, name, and script per dialect."""

    version: int
    name: str
    scripts: dict[str, str]
    """Dialect (``"sqlite"``/``"postgres"``) to SQL script."""

    def script(self, dialect: Dialect) -> str:
        """The SQL to run on ``dialect``."""
        return self.scripts[dialect]


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """Read and validate the migration files in ``directory``, sorted by version."""
    directory = SCHEMA_DIR if directory is None else directory
    found: dict[int, dict[str, tuple[str, str]]] = {}
    for path in sorted(directory.iterdir()):
        if not path.name.endswith(".sql"):
            continue
        match = _FILE_RE.match(path.name)
        if match is None:
            raise MigrationError(f"bad migration file name {path.name!r} (want NNNN_name.sql)")
        version = int(match.group(1))
        if version == 0:
            raise MigrationError(f"{path.name}: versions start at 0001")
        kind = match.group(3) or "common"
        entry = found.setdefault(version, {})
        if kind in entry:
            raise MigrationError(f"two migration files for version {version}, kind {kind}")
        entry[kind] = (match.group(2), path.read_text(encoding="utf-8"))
    migrations = []
    for version in sorted(found):
        entry = found[version]
        names = {name for name, _ in entry.values()}
        if len(names) != 1:
            raise MigrationError(f"version {version} has different names: {sorted(names)}")
        if "common" in entry:
            if len(entry) != 1:
                raise MigrationError(f"version {version} mixes a common and a dialect file")
            sql = entry["common"][1]
            scripts = {"sqlite": sql, "postgres": sql}
        elif set(entry) == {"sqlite", "postgres"}:
            scripts = {kind: sql for kind, (_, sql) in entry.items()}
        else:
            raise MigrationError(f"version {version} needs both .sqlite.sql and .postgres.sql")
        migrations.append(Migration(version, names.pop(), scripts))
    return migrations


async def applied_versions(db: Database) -> list[int]:
    """Versions recorded in ``schema_migrations`` (creating the table if missing)."""
    async with db.transaction() as conn:
        # The lock keeps concurrent migrators from racing on CREATE TABLE IF NOT EXISTS.
        if db.dialect == "postgres":
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _ADVISORY_LOCK_KEY)
        await conn.execute(_BOOKKEEPING)
    rows = await db.fetchall("SELECT version FROM schema_migrations ORDER BY version")
    return [int(row[0]) for row in rows]


async def pending_migrations(db: Database, directory: Path | None = None) -> list[Migration]:
    """Migrations not yet applied; raises :class:`SchemaTooNew` for unknown applied versions."""
    known = load_migrations(directory)
    applied = set(await applied_versions(db))
    unknown = sorted(applied - {m.version for m in known})
    if unknown:
        raise SchemaTooNew(
            f"the database has schema versions {unknown} that this ranvier does not know "
            "(was it upgraded by a newer ranvier?); refusing to start"
        )
    return [m for m in known if m.version not in applied]


async def migrate(db: Database, directory: Path | None = None) -> list[int]:
    """Bring the schema up to date; return the versions applied now (empty if current)."""
    done: list[int] = []
    for migration in await pending_migrations(db, directory):
        async with db.transaction() as conn:
            if await _apply(db.dialect, conn, migration):
                done.append(migration.version)
    return done


async def _apply(dialect: Dialect, conn: Connection, migration: Migration) -> bool:
    """Apply one migration inside ``conn``'s transaction unless another process did."""
    if dialect == "postgres":
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _ADVISORY_LOCK_KEY)
    row = await conn.fetchone(
        "SELECT 1 FROM schema_migrations WHERE version = $1", migration.version
    )
    if row is not None:
        return False
    try:
        await conn.executescript(migration.script(dialect))
    except DatabaseError as exc:
        raise MigrationError(
            f"migration {migration.version:04d}_{migration.name} failed: {exc}"
        ) from exc
    await conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_ts) VALUES ($1, $2, $3)",
        migration.version,
        migration.name,
        int(time.time() * 1000),
    )
    return True

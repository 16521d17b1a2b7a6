"""``ranvier migrate`` against a real database of each kind."""

from __future__ import annotations

from pathlib import Path

from ranvier.db import open_database
from ranvier.db.migrations import applied_versions, load_migrations
from tests.cli.helpers import ranvier, write_config


async def test_migrate_applies_then_reports_up_to_date(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database=database_url)
    first = ranvier("migrate", "--config", str(config))
    assert first.returncode == 0, first.stderr
    expected = [m.version for m in load_migrations()]
    assert first.stdout.strip() == "applied migrations: " + ", ".join(f"{v:04d}" for v in expected)
    second = ranvier("migrate", "--config", str(config))
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "database schema is up to date"
    db = await open_database(database_url)
    try:
        assert await applied_versions(db) == expected
    finally:
        await db.close()


def test_migrate_unreachable_database_fails_cleanly(tmp_path: Path) -> None:
    config = write_config(tmp_path, database="postgresql://nobody@127.0.0.1:1/none")
    out = ranvier("migrate", "--config", str(config))
    assert out.returncode == 1
    assert out.stderr.startswith("migration failed (postgres):")
    assert "Traceback" not in out.stderr

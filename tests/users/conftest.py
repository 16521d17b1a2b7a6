"""Store tests run on SQLite and PostgreSQL through the shared ``database`` fixture."""

from tests.db_fixtures import database, database_url, raw_database

__all__ = ["database", "database_url", "raw_database"]

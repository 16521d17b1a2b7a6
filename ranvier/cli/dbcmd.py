"""``ranvier migrate``: bring the database schema up to date and exit.

``ranvier run`` migrates on start too; this command lets an operator do it
separately (e.g. before switching a service over), and reports what it applied.
"""

from __future__ import annotations

import argparse
import asyncio

from ranvier.cli.common import EXIT_OK, CliError, load_config_or_exit
from ranvier.config.schema import Config


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``migrate`` command."""
    p = sub.add_parser(
        "migrate",
        help="apply pending database migrations",
        description="Apply pending schema migrations to the configured database and exit.",
    )
    p.add_argument("--config", required=True, metavar="FILE")
    p.set_defaults(func=run)


async def migrate_database(config: Config) -> list[int]:
    """Open the configured database, apply pending migrations, close it; return the
    versions applied."""
    from ranvier.db import open_database
    from ranvier.db.migrations import migrate

    d = config.database
    db = await open_database(
        d.connection_string,
        max_open_conns=d.max_open_conns,
        max_idle_conns=d.max_idle_conns,
        conn_max_lifetime_seconds=d.conn_max_lifetime_seconds,
    )
    try:
        return await migrate(db)
    finally:
        await db.close()


def run(args: argparse.Namespace) -> int:
    """Migrate and print the applied versions."""
    config = load_config_or_exit(args.config)
    try:
        applied = asyncio.run(migrate_database(config))
    except Exception as exc:
        raise CliError(f"migration failed ({config.database.dialect}): {exc}") from None
    if applied:
        print(f"applied migrations: {', '.join(f'{v:04d}' for v in applied)}")
    else:
        print("database schema is up to date")
    return EXIT_OK

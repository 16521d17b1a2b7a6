"""``ranvier generate-config``: print (or write) a commented config file.

The output follows Dendrite's layout; loaded back it gives ranvier's defaults apart
from the choices made here (server name, database, key path, media path).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ranvier.cli.common import EXIT_OK, EXIT_USAGE, CliError
from ranvier.config.loader import normalise_connection_string
from ranvier.config.template import render_config
from ranvier.config.values import check_server_name


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``generate-config`` command."""
    p = sub.add_parser(
        "generate-config",
        help="print a commented config file",
        description="Print a commented YAML config file (Dendrite's layout) on stdout, "
        "or write it with --output (never overwriting).",
    )
    p.add_argument("--server-name", default="localhost", metavar="NAME")
    p.add_argument(
        "--database",
        default="file:ranvier.db",
        metavar="DSN",
        help="file:PATH (SQLite, relative to the config file) or postgresql://...",
    )
    p.add_argument("--private-key", default="matrix_key.pem", metavar="FILE")
    p.add_argument("--media-path", default="media_store", metavar="DIR")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate the choices and emit the file."""
    problems = []
    try:
        check_server_name(args.server_name)
    except ValueError as exc:
        problems.append(f"--server-name: {exc}")
    try:
        normalise_connection_string(args.database, Path.cwd())
    except ValueError as exc:
        problems.append(f"--database: {exc}")
    if problems:
        raise CliError("\n".join(f"ranvier: {p}" for p in problems), EXIT_USAGE)
    text = render_config(
        server_name=args.server_name,
        database=args.database,
        private_key=args.private_key,
        media_path=args.media_path,
    )
    if not args.output:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CliError(f"{args.output}: already exists; not overwriting") from None
    except OSError as exc:
        raise CliError(f"{args.output}: cannot create: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {args.output}")
    return EXIT_OK

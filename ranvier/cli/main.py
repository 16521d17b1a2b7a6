"""Entry point of the ``ranvier`` console script: parse, dispatch, map errors to exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import ranvier
from ranvier.cli import accounts, check, dbcmd, genconfig, keys, run
from ranvier.cli.common import EXIT_USAGE, CliError


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per module."""
    parser = argparse.ArgumentParser(
        prog="ranvier",
        description="ranvier: a Matrix homeserver. Run 'ranvier COMMAND --help' for details.",
    )
    parser.add_argument("--version", action="version", version=f"ranvier {ranvier.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (run, genconfig, keys, accounts, dbcmd, check):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        status: int = args.func(args)
    except CliError as exc:
        print(str(exc), file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())

"""``ranvier create-account``: make a local account from the command line.

Registration is disabled by default, so this is how the first account (typically
an admin) is made. The password comes from ``--password-file`` (its first line),
``--password-stdin``, or an interactive prompt (asked twice); never from an
argument, which other local users could read from the process list.

The user ID follows the strict grammar for new ids (appendices "User Identifiers":
localpart of ``a-z 0-9 . _ = - / +``); a full ``@user:server`` is accepted when its
server is this server.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path

from ranvier.cli.common import EXIT_OK, EXIT_USAGE, CliError, load_config_or_exit
from ranvier.config.schema import Config
from ranvier.core.ids import is_valid_localpart


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``create-account`` command."""
    p = sub.add_parser(
        "create-account",
        help="create a local account",
        description="Create a local account. The password is read from --password-file, "
        "from stdin with --password-stdin, or prompted for.",
    )
    p.add_argument("--config", required=True, metavar="FILE")
    p.add_argument("--username", required=True, metavar="NAME", help="localpart or @name:server")
    p.add_argument("--admin", action="store_true", help="make the account a server admin")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--password-file", metavar="FILE", help="read the password from FILE")
    source.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    p.set_defaults(func=run)


def localpart_of(username: str, server_name: str) -> str:
    """The localpart to create, from ``alice`` or ``@alice:server``; raises
    :class:`CliError` (status 2) when invalid or for another server."""
    localpart = username
    if username.startswith("@"):
        localpart, sep, server = username[1:].partition(":")
        if not sep or server != server_name:
            raise CliError(
                f"ranvier: --username: {username!r} is not a user of this server "
                f"({server_name}); give the localpart or @name:{server_name}",
                EXIT_USAGE,
            )
    if not is_valid_localpart(localpart, historical=False):
        raise CliError(
            f"ranvier: --username: invalid username {localpart!r}: use only lower-case "
            "letters, digits and . _ = - / +",
            EXIT_USAGE,
        )
    if len(f"@{localpart}:{server_name}") > 255:
        raise CliError("ranvier: --username: the user ID would exceed 255 bytes", EXIT_USAGE)
    return localpart


def read_password(args: argparse.Namespace) -> str:
    """The password from the chosen source; raises :class:`CliError` if empty."""
    if args.password_file:
        try:
            text = Path(args.password_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise CliError(f"ranvier: {args.password_file}: {exc.strerror or exc}") from None
        password = text.splitlines()[0] if text else ""
    elif args.password_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise CliError("ranvier: the passwords differ")
    else:
        raise CliError(
            "ranvier: no password: use --password-file FILE or --password-stdin "
            "(stdin is not a terminal, so there is no prompt)",
            EXIT_USAGE,
        )
    if not password:
        raise CliError("ranvier: the password is empty", EXIT_USAGE)
    return password


async def create(config: Config, localpart: str, password: str, admin: bool) -> str:
    """Create the account through the composition root; return its user ID."""
    from ranvier.server import create_account

    return await create_account(config, localpart, password, admin)


def run(args: argparse.Namespace) -> int:
    """Create the account and print its user ID."""
    config = load_config_or_exit(args.config)
    localpart = localpart_of(args.username, config.server_name)
    password = read_password(args)
    from ranvier.users.accounts import UserIdTaken

    try:
        user_id = asyncio.run(create(config, localpart, password, args.admin))
    except UserIdTaken:
        raise CliError(f"ranvier: user @{localpart}:{config.server_name} already exists") from None
    print(f"created {'admin ' if args.admin else ''}account {user_id}")
    return EXIT_OK

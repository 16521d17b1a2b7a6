"""``ranvier check-config``: validate a config file without starting anything."""

from __future__ import annotations

import argparse

from ranvier.cli.common import EXIT_OK, CliError, load_config_or_exit
from ranvier.config.keyfile import KeyFileError, load_server_keys


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``check-config`` command."""
    p = sub.add_parser(
        "check-config",
        help="validate a config file and its signing key",
        description="Load the config, report every problem (exit status 2), read the "
        "signing keys (exit status 1 if unusable), and summarise.",
    )
    p.add_argument("--config", required=True, metavar="FILE")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print a summary of the loaded configuration."""
    config = load_config_or_exit(args.config)
    g = config.global_
    try:
        keys = load_server_keys(config)
    except KeyFileError as exc:
        raise CliError(
            f"{exc}\n(create one with: ranvier generate-keys --private-key {g.private_key})"
        ) from None
    print(f"config {config.config_path}: OK")
    print(f"  server name:  {g.server_name}")
    print(f"  signing key:  {keys.signing_key.key_id} ({g.private_key})")
    print(f"  old keys:     {len(keys.old_verify_keys)}")
    print(f"  database:     {g.database.dialect}")
    print(f"  http listen:  {g.http_bind_address or 'off'}")
    print(f"  https listen: {g.https_bind_address or 'off'}")
    reg = "disabled" if config.client_api.registration_disabled else "open"
    print(f"  registration: {reg}")
    return EXIT_OK

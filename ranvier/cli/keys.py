"""``ranvier generate-keys``: a signing key file and/or a self-signed TLS certificate.

The signing key (server-server-api "Retrieving server keys") is written in Dendrite's
PEM format by default, or Synapse's one-line format with ``--format synapse``; ranvier
reads both. Existing files are never overwritten.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ranvier.cli.common import EXIT_OK, EXIT_USAGE, CliError, load_config_or_exit
from ranvier.cli.tlscert import TlsCertError, make_self_signed_cert
from ranvier.config.keyfile import KeyFileError, generate_signing_key_file


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``generate-keys`` command."""
    p = sub.add_parser(
        "generate-keys",
        help="create a signing key and/or a self-signed TLS certificate",
        description="Create a new Ed25519 signing key file and/or a self-signed TLS "
        "certificate. Existing files are never overwritten.",
    )
    p.add_argument("--private-key", metavar="FILE", help="signing key file to create")
    p.add_argument(
        "--format",
        choices=("pem", "synapse"),
        default="pem",
        help="pem: Dendrite's MATRIX PRIVATE KEY block (default); "
        "synapse: 'ed25519 <version> <seed>'",
    )
    p.add_argument("--tls-cert", metavar="FILE", help="self-signed certificate file to create")
    p.add_argument("--tls-key", metavar="FILE", help="its private key file to create")
    p.add_argument(
        "--server-name",
        metavar="NAME",
        help="name the certificate is for (default: global.server_name of --config, "
        "else localhost)",
    )
    p.add_argument("--config", metavar="FILE", help="take the server name from this config")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Create the requested files; print what was made."""
    if not args.private_key and not (args.tls_cert or args.tls_key):
        raise CliError("generate-keys: give --private-key FILE and/or --tls-cert/--tls-key", 2)
    if bool(args.tls_cert) != bool(args.tls_key):
        raise CliError("generate-keys: --tls-cert and --tls-key go together", EXIT_USAGE)
    if args.private_key:
        try:
            key = generate_signing_key_file(Path(args.private_key), args.format)
        except KeyFileError as exc:
            raise CliError(str(exc)) from None
        print(f"wrote signing key {key.key_id} to {args.private_key}")
    if args.tls_cert:
        server_name = args.server_name
        if server_name is None and args.config:
            server_name = load_config_or_exit(args.config).server_name
        try:
            make_self_signed_cert(
                Path(args.tls_cert), Path(args.tls_key), server_name or "localhost"
            )
        except TlsCertError as exc:
            raise CliError(str(exc)) from None
        print(f"wrote self-signed certificate {args.tls_cert} and key {args.tls_key}")
    return EXIT_OK

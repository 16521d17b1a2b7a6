"""``ranvier run``: start the homeserver and serve until SIGTERM or SIGINT.

Theory of operation: the config is loaded first (every problem -> exit status 2,
nothing started); listen addresses come from ``--http-bind-address`` /
``--https-bind-address`` (Dendrite's flags) or else from the config's ranvier
extension keys ``global.http_bind_address`` / ``https_bind_address``. Pre-flight
checks (a readable signing key, an existing directory for the SQLite file, TLS
files for HTTPS) turn the commonest first-run mistakes into one clear line.

The event loop is uvloop's. The composition root
:func:`ranvier.server.run_homeserver` opens the database, migrates, builds the
services and serves until it is cancelled; on cancellation it drains (stops
accepting, lets in-flight requests finish within the grace period, closes the
database). The first SIGTERM/SIGINT cancels it; a second one exits at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable
from pathlib import Path

import uvloop

from ranvier.cli.common import EXIT_OK, EXIT_USAGE, CliError, load_config_or_exit, setup_logging
from ranvier.config.keyfile import KeyFileError, load_server_keys
from ranvier.config.schema import BindAddress, Config
from ranvier.config.values import parse_bind_address

logger = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``run`` command."""
    p = sub.add_parser(
        "run",
        help="run the homeserver",
        description="Run the homeserver until SIGTERM/SIGINT (then drain and exit).",
    )
    p.add_argument("--config", required=True, metavar="FILE")
    p.add_argument(
        "--http-bind-address",
        metavar="HOST:PORT",
        help="plain HTTP listener (default: global.http_bind_address, 127.0.0.1:8008); "
        "'' disables it",
    )
    p.add_argument(
        "--https-bind-address",
        metavar="HOST:PORT",
        help="HTTPS listener (default: global.https_bind_address, off)",
    )
    p.add_argument("--tls-cert", metavar="FILE", help="PEM certificate chain for HTTPS")
    p.add_argument("--tls-key", metavar="FILE", help="PEM private key for HTTPS")
    p.set_defaults(func=run)


def _bind(flag: str, value: str | None, default: BindAddress | None) -> BindAddress | None:
    if value is None:
        return default
    if value == "":
        return None
    try:
        return parse_bind_address(value)
    except ValueError as exc:
        raise CliError(f"ranvier: {flag}: {exc}", EXIT_USAGE) from None


def resolve_listeners(
    args: argparse.Namespace, config: Config
) -> tuple[BindAddress | None, BindAddress | None, Path | None, Path | None]:
    """The HTTP and HTTPS addresses and TLS files, command line over config."""
    g = config.global_
    http = _bind("--http-bind-address", args.http_bind_address, g.http_bind_address)
    https = _bind("--https-bind-address", args.https_bind_address, g.https_bind_address)
    cert = Path(args.tls_cert).absolute() if args.tls_cert else g.tls_cert
    key = Path(args.tls_key).absolute() if args.tls_key else g.tls_key
    if https is not None and (cert is None or key is None):
        raise CliError(
            "ranvier: an HTTPS listener needs --tls-cert and --tls-key "
            "(or global.tls_cert/tls_key); make a test pair with "
            "ranvier generate-keys --tls-cert cert.pem --tls-key key.pem",
            EXIT_USAGE,
        )
    if http is None and https is None:
        raise CliError("ranvier: no listener: give --http-bind-address HOST:PORT", EXIT_USAGE)
    for path in (cert, key) if https is not None else ():
        if path is not None and not path.is_file():
            raise CliError(f"ranvier: {path}: no such TLS file")
    return http, https, cert, key


def preflight(config: Config) -> None:
    """Fail early, in one line each, on a missing signing key or database directory."""
    try:
        load_server_keys(config)
    except KeyFileError as exc:
        raise CliError(
            f"ranvier: {exc}\n  create one with: ranvier generate-keys "
            f"--private-key {config.global_.private_key}"
        ) from None
    cs = config.database.connection_string
    if config.database.dialect == "sqlite" and cs.startswith("file:"):
        directory = Path(cs[len("file:") :].partition("?")[0]).parent
        if not directory.is_dir():
            raise CliError(f"ranvier: database directory {directory} does not exist")


async def serve_until_signalled(main: Awaitable[None]) -> None:
    """Run ``main`` until it ends or SIGTERM/SIGINT arrives; then cancel it and wait
    for its drain. A second signal exits the process immediately."""
    loop = asyncio.get_running_loop()
    server = asyncio.ensure_future(main)
    stop = asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT)

    def on_signal(signum: int) -> None:
        if stop.is_set():
            logger.warning("second signal: exiting without draining")
            os._exit(1)
        logger.info("received %s: shutting down", signal.Signals(signum).name)
        stop.set()

    for signum in signals:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({server, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not server.done():
            server.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await server
        else:
            server.result()
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


def run(args: argparse.Namespace) -> int:
    """Load, check, and serve."""
    config = load_config_or_exit(args.config)
    http, https, cert, key = resolve_listeners(args, config)
    setup_logging(config.logging)
    preflight(config)
    from ranvier.server import run_homeserver

    logger.info(
        "ranvier starting: server name %s, http %s, https %s",
        config.server_name,
        http or "off",
        https or "off",
    )
    main = run_homeserver(config, http, https, cert, key)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve_until_signalled(main))
    logger.info("ranvier stopped")
    return EXIT_OK

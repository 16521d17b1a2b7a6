"""Real ranvier homeservers on loopback HTTPS for federation tests.

Each peer is a whole :class:`~ranvier.server.Homeserver` named ``127.0.0.1:<port>``
(so discovery connects directly, step 1 of "Resolving server names"), serving a
self-signed certificate; peers skip TLS validation and may connect to loopback, as the
test-only settings ``disable_tls_validation`` and ``allow_loopback`` allow.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from ranvier.config.keyfile import generate_signing_key_file, read_signing_key_file
from ranvier.config.schema import (
    Config,
    DatabaseConfig,
    FederationApiConfig,
    GlobalConfig,
    KeyPerspective,
    OldSigningKey,
    UserApiConfig,
)
from ranvier.core.signing import SigningKey
from ranvier.federation.service import FederationHooks
from ranvier.http.tls import make_self_signed
from ranvier.server import Homeserver


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Peer:
    """A running homeserver and what tests need to know about it."""

    hs: Homeserver
    name: str
    port: int
    key: SigningKey
    directory: Path
    old_keys: tuple[SigningKey, ...] = ()

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        await self.hs.stop(1.0)


async def start_peer(
    directory: Path,
    *,
    perspectives: tuple[KeyPerspective, ...] = (),
    prefer_direct_fetch: bool = False,
    old_key_expired_at: int | None = None,
    database: str | None = None,
    port: int | None = None,
) -> Peer:
    """Start a homeserver in ``directory`` (reusing its key, database and port if they
    exist, so a peer can be restarted)."""
    directory.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    key_path = directory / "signing.key"
    if not key_path.exists():
        generate_signing_key_file(key_path)
    old: tuple[OldSigningKey, ...] = ()
    old_keys: tuple[SigningKey, ...] = ()
    if old_key_expired_at is not None:
        old_path = directory / "old.key"
        if not old_path.exists():
            generate_signing_key_file(old_path)
        old = (OldSigningKey(expired_at=old_key_expired_at, private_key=old_path),)
        old_keys = tuple(read_signing_key_file(old_path))
    cert, tls_key = directory / "tls.crt", directory / "tls.key"
    if not cert.exists():
        make_self_signed(cert, tls_key, ("127.0.0.1",))
    name = f"127.0.0.1:{port}"
    config = Config(
        global_=GlobalConfig(
            server_name=name,
            private_key=key_path,
            old_private_keys=old,
            database=DatabaseConfig(
                connection_string=database or f"file:{directory / 'hs.sqlite'}"
            ),
        ),
        federation_api=FederationApiConfig(
            disable_tls_validation=True,
            allow_loopback=True,
            key_perspectives=perspectives,
            prefer_direct_fetch=prefer_direct_fetch,
        ),
        user_api=UserApiConfig(bcrypt_cost=4),
    )
    hs = await Homeserver.open(config, federation_hooks=FederationHooks(key_backoff_base_ms=200))
    await hs.start(None, ("127.0.0.1", port), cert, tls_key)
    return Peer(hs, name, port, read_signing_key_file(key_path)[0], directory, old_keys)

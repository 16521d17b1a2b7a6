"""Builds the federation foundation from the configuration, once per server.

:class:`Federation` holds the pieces other components use -- the keyring (verify
signatures of remote servers), the :class:`~.client.FederationClient` (send signed
requests), the :class:`~.inbound_auth.ServerAuthenticator` (authenticate incoming
ones) and our published keys -- and closes their connections on :meth:`close`.

:class:`FederationHooks` are test hooks, never set by configuration: a static hosts
table, where well-known files are fetched, the SRV query function, the key fetch
back-off.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ranvier.config.keyfile import ServerKeys
from ranvier.config.schema import Config
from ranvier.db.api import Database
from ranvier.federation.client import FederationClient
from ranvier.federation.discovery import ServerResolver, SrvLookup
from ranvier.federation.dns_cache import AddressPolicy, DnsCache
from ranvier.federation.inbound_auth import ServerAuthenticator
from ranvier.federation.key_store import KeyStore
from ranvier.federation.keyring import Keyring
from ranvier.federation.local_keys import LocalServerKeys
from ranvier.federation.well_known import WellKnownFetcher, default_well_known_url


@dataclass(frozen=True, slots=True)
class FederationHooks:
    """Test hooks: redirect discovery to loopback without touching real DNS."""

    hosts: Mapping[str, list[str]] | None = None
    """Static host name -> addresses, consulted before DNS."""
    well_known_url: Callable[[str], str] = default_well_known_url
    """Where the well-known file of a host is fetched."""
    srv_lookup: SrvLookup | None = None
    """The SRV query function (default: UDP to the resolv.conf nameservers)."""
    key_backoff_base_ms: int = 10_000
    """First back-off after a failed key fetch."""


class Federation:
    """The federation services of one server."""

    def __init__(
        self,
        config: Config,
        db: Database,
        keys: ServerKeys,
        hooks: FederationHooks | None = None,
    ) -> None:
        hooks = hooks or FederationHooks()
        g, f = config.global_, config.federation_api
        self.server_name = config.server_name
        self.local_keys = LocalServerKeys(self.server_name, keys, g.key_validity_period_ms)
        self.dns = DnsCache(
            enabled=g.dns_cache.enabled,
            size=g.dns_cache.cache_size,
            lifetime_ms=g.dns_cache.cache_lifetime_ms,
            hosts=hooks.hosts,
        )
        self.policy = AddressPolicy(
            f.deny_networks, f.allow_networks, allow_loopback=f.allow_loopback
        )
        verify_tls = not f.disable_tls_validation
        self.well_known = WellKnownFetcher(
            self.dns, self.policy, verify_tls=verify_tls, url_for=hooks.well_known_url
        )
        self.resolver = ServerResolver(
            self.dns, self.policy, self.well_known, srv_lookup=hooks.srv_lookup
        )
        self.client = FederationClient(
            self.server_name,
            keys.signing_key,
            self.resolver,
            verify_tls=verify_tls,
            keepalive=not f.disable_http_keepalives,
        )
        self.keyring = Keyring(
            self.local_keys,
            KeyStore(db),
            self.client,
            perspectives=f.key_perspectives,
            prefer_direct_fetch=f.prefer_direct_fetch,
            backoff_base_ms=hooks.key_backoff_base_ms,
        )
        self.authenticator = ServerAuthenticator(self.server_name, self.keyring)

    async def close(self) -> None:
        """Close outbound connections."""
        await self.client.close()
        await self.well_known.close()

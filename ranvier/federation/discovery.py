"""Resolving a server name to where and how to connect.

Spec: server-server-api "Resolving server names" (steps 1-6 and 3.1-3.5) and "TLS"
(SNI for host names, none for IP literals).

Theory of operation: :meth:`ServerResolver.resolve` turns a server name into a
:class:`ResolvedServer`: the ``(ip, port)`` addresses to try in order, the ``Host``
header to send, and the name the TLS certificate must be valid for (also sent as
SNI), or None for an IP literal (certificate checked against the address, no SNI).

1. IP literal: that address, the given port or 8448; Host = the server name.
2. Host name with a port: its addresses; Host = the server name; TLS name = host.
3. Otherwise ``/.well-known/matrix/server`` (:mod:`.well_known`); a delegation to
   ``dhost[:dport]`` is handled as 3.1 (IP literal; Host = the delegated name),
   3.2 (explicit port; Host = ``dhost:dport``) or 3.3-3.5: SRV
   ``_matrix-fed._tcp.dhost`` then the deprecated ``_matrix._tcp.dhost``, else
   ``dhost:8448``; Host and TLS name = ``dhost``.
4-6. Without a delegation the same SRV-then-8448 steps run on the host itself.

SRV lookups (:mod:`.dns`) fail soft: any DNS error counts as "no record". SRV
answers are cached for their TTL (between one minute and one hour). Addresses come
from the :class:`~ranvier.federation.dns_cache.DnsCache` and are filtered by the
:class:`~ranvier.federation.dns_cache.AddressPolicy`; when none is left the server
is unreachable (:class:`DiscoveryError`).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ranvier.core.ids import InvalidIdentifier, parse_server_name
from ranvier.federation.dns import DnsError, SrvRecord, lookup_srv, order_srv
from ranvier.federation.dns_cache import AddressPolicy, DnsCache, ResolveError
from ranvier.federation.well_known import WellKnownFetcher

DEFAULT_PORT = 8448
SRV_SERVICES = ("_matrix-fed._tcp", "_matrix._tcp")
MIN_SRV_CACHE_S = 60.0
MAX_SRV_CACHE_S = 3600.0

SrvLookup = Callable[[str], Awaitable[list[SrvRecord]]]


class DiscoveryError(Exception):
    """The server name is invalid or resolves to no permitted address."""


@dataclass(frozen=True, slots=True)
class ResolvedServer:
    """Where to connect for a server name, and what to tell the other end."""

    server_name: str
    addresses: tuple[tuple[str, int], ...]
    """``(ip, port)`` pairs, in the order to try them."""
    host_header: str
    tls_name: str | None
    """Name the certificate must match and SNI to send; None for IP literals."""


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class ServerResolver:
    """Server name -> :class:`ResolvedServer`, per the spec's discovery steps."""

    def __init__(
        self,
        dns: DnsCache,
        policy: AddressPolicy,
        well_known: WellKnownFetcher,
        *,
        srv_lookup: SrvLookup | None = None,
    ) -> None:
        self.dns = dns
        self.policy = policy
        self.well_known = well_known
        self.srv_lookup: SrvLookup = srv_lookup or lookup_srv
        self._srv_cache: dict[str, tuple[float, list[SrvRecord]]] = {}

    async def resolve(self, server_name: str) -> ResolvedServer:
        """Resolve ``server_name``; raises :class:`DiscoveryError`."""
        try:
            name = parse_server_name(server_name)
        except InvalidIdentifier as e:
            raise DiscoveryError(f"invalid server name {server_name!r}: {e}") from None
        host = name.host
        if _is_ip(host):  # step 1
            return await self._finish(server_name, [(host, name.port or DEFAULT_PORT)], None)
        if name.port is not None:  # step 2
            return await self._finish(server_name, [(host, name.port)], host, server_name)
        delegated = await self.well_known.delegated_server(host)  # step 3
        if delegated is not None:
            d = parse_server_name(delegated)
            if _is_ip(d.host):  # 3.1
                return await self._finish(
                    server_name, [(d.host, d.port or DEFAULT_PORT)], None, delegated
                )
            if d.port is not None:  # 3.2
                return await self._finish(server_name, [(d.host, d.port)], d.host, delegated)
            host = d.host  # 3.3-3.5 are steps 4-6 on the delegated host
        targets = await self._srv_targets(host)  # steps 4, 5
        if not targets:
            targets = [(host, DEFAULT_PORT)]  # step 6
        return await self._finish(server_name, targets, host, host)

    async def _srv_targets(self, host: str) -> list[tuple[str, int]]:
        for service in SRV_SERVICES:
            records = await self._srv(f"{service}.{host}")
            if records:
                return [(r.target.rstrip("."), r.port) for r in order_srv(records)]
        return []

    async def _srv(self, name: str) -> list[SrvRecord]:
        now = time.monotonic()
        hit = self._srv_cache.get(name)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            records = await self.srv_lookup(name)
        except (DnsError, OSError, TimeoutError):
            records = []
        ttl = min((r.ttl for r in records), default=MIN_SRV_CACHE_S)
        ttl = max(MIN_SRV_CACHE_S, min(float(ttl), MAX_SRV_CACHE_S))
        self._srv_cache[name] = (now + ttl, records)
        return records

    async def _finish(
        self,
        server_name: str,
        targets: list[tuple[str, int]],
        tls_name: str | None,
        host_header: str | None = None,
    ) -> ResolvedServer:
        addresses: list[tuple[str, int]] = []
        denied = False
        for target, port in targets:
            try:
                ips = await self.dns.resolve(target)
            except ResolveError:
                continue
            for ip in ips:
                if not self.policy.permits(ip):
                    denied = True
                elif (ip, port) not in addresses:
                    addresses.append((ip, port))
        if not addresses:
            why = "only denied addresses" if denied else "no address"
            raise DiscoveryError(f"{server_name} resolves to {why}")
        return ResolvedServer(server_name, tuple(addresses), host_header or server_name, tls_name)

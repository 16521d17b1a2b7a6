"""Address lookups for federation: a small cache over ``getaddrinfo`` and the
address policy (``federation_api.deny_networks``/``allow_networks``).

Spec: server-server-api "Resolving server names" (AAAA/A lookups of the steps);
config ``global.dns_cache`` (``enabled``, ``cache_size``, ``cache_lifetime``).

Theory of operation: :class:`DnsCache` resolves a host name to its IP addresses
with the event loop's ``getaddrinfo`` (IPv6 first, as returned), remembering up to
``cache_size`` answers for ``cache_lifetime`` when enabled (least recently used
evicted first). Concurrent lookups of one name share one query. ``hosts`` is a
static table consulted first, like ``/etc/hosts`` (tests use it to send made-up
names to loopback).

:class:`AddressPolicy` decides whether this server may connect to an address: it
must lie in one of ``allow_networks`` and in none of ``deny_networks`` (IPv4-mapped
IPv6 addresses are judged as IPv4). ``allow_loopback`` (tests only) admits loopback
addresses whatever the lists say. Checking the resolved addresses, not the names,
stops a remote server from steering requests at internal services through DNS or
``.well-known``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ResolveError(OSError):
    """A name has no usable address."""


def _networks(specs: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(s, strict=False) for s in specs)


class AddressPolicy:
    """Which addresses federation traffic may go to."""

    def __init__(
        self, deny: Iterable[str], allow: Iterable[str], *, allow_loopback: bool = False
    ) -> None:
        self.deny = _networks(deny)
        self.allow = _networks(allow)
        self.allow_loopback = allow_loopback

    def permits(self, address: str) -> bool:
        """True if connecting to ``address`` (an IP literal) is allowed."""
        try:
            ip: IPAddress = ipaddress.ip_address(address.strip("[]").split("%")[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip.is_loopback and self.allow_loopback:
            return True
        if any(ip in net for net in self.deny if net.version == ip.version):
            return False
        return any(ip in net for net in self.allow if net.version == ip.version)


class DnsCache:
    """Host name -> IP addresses, optionally cached."""

    def __init__(
        self,
        *,
        enabled: bool = False,
        size: int = 256,
        lifetime_ms: int = 5 * 60 * 1000,
        hosts: Mapping[str, list[str]] | None = None,
    ) -> None:
        self.enabled = enabled and size > 0
        self.size = size
        self.lifetime_s = lifetime_ms / 1000
        self.hosts = dict(hosts or {})
        self._cache: OrderedDict[str, tuple[float, list[str]]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[list[str]]] = {}
        self.lookups = 0
        """How many real lookups were made (for tests and metrics)."""

    async def resolve(self, host: str) -> list[str]:
        """The IP addresses of ``host`` (an IP literal resolves to itself).

        Raises :class:`ResolveError` when there are none.
        """
        bare = host.strip("[]")
        try:
            ipaddress.ip_address(bare)
            return [bare]
        except ValueError:
            pass
        key = host.lower().rstrip(".")
        static = self.hosts.get(key)
        if static is not None:
            return list(static)
        if self.enabled:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > time.monotonic():
                self._cache.move_to_end(key)
                return list(hit[1])
        pending = self._inflight.get(key)
        if pending is not None:
            return list(await asyncio.shield(pending))
        future: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            addresses = await self._lookup(key)
        except BaseException as e:
            if not future.done():
                future.set_exception(e if isinstance(e, Exception) else ResolveError(str(e)))
                future.exception()  # mark retrieved
            raise
        finally:
            self._inflight.pop(key, None)
        future.set_result(addresses)
        if self.enabled:
            self._cache[key] = (time.monotonic() + self.lifetime_s, addresses)
            self._cache.move_to_end(key)
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return list(addresses)

    async def _lookup(self, host: str) -> list[str]:
        self.lookups += 1
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as e:
            raise ResolveError(f"cannot resolve {host}: {e}") from None
        addresses: list[str] = []
        for _family, _type, _proto, _canon, sockaddr in infos:
            ip = str(sockaddr[0])
            if ip not in addresses:
                addresses.append(ip)
        if not addresses:
            raise ResolveError(f"{host} has no addresses")
        return addresses

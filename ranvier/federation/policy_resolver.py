"""An aiohttp resolver that answers from the DNS cache and drops forbidden addresses.

Spec: server-server-api "Resolving server names" (the lookups themselves); which
addresses are allowed is ranvier's own policy (:class:`AddressPolicy`).

Kept apart from :mod:`ranvier.federation.well_known` because it subclasses an aiohttp
class: importing it pulls in aiohttp (about 13 MiB), which an idle server -- or one
with federation off -- never needs. :class:`~ranvier.federation.well_known.WellKnownFetcher`
imports this module when it opens its first connection.
"""

from __future__ import annotations

import socket

from aiohttp.abc import AbstractResolver, ResolveResult

from ranvier.federation.dns_cache import AddressPolicy, DnsCache, ResolveError


class PolicyResolver(AbstractResolver):
    """An aiohttp resolver over :class:`DnsCache` that only returns permitted addresses."""

    def __init__(self, dns: DnsCache, policy: AddressPolicy) -> None:
        self.dns = dns
        self.policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Addresses of ``host`` that the policy allows; OSError if none."""
        try:
            addresses = await self.dns.resolve(host)
        except ResolveError as e:
            raise OSError(str(e)) from None
        results: list[ResolveResult] = []
        for ip in addresses:
            if not self.policy.permits(ip):
                continue
            fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
            results.append(
                ResolveResult(hostname=host, host=ip, port=port, family=fam, proto=0, flags=0)
            )
        if not results:
            raise OSError(f"no permitted address for {host}")
        return results

    async def close(self) -> None:
        """Nothing to release."""

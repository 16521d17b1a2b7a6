"""``/.well-known/matrix/server`` lookups with caching and back-off.

Spec: server-server-api "Resolving server names" step 3 and the ``getWellKnown``
operation (wellknown.yaml).

Theory of operation: :meth:`WellKnownFetcher.delegated_server` answers the
``m.server`` value a host delegates to, or None. The result is cached per host,
successes and failures alike. A success lives as long as its ``Cache-Control:
max-age`` (or ``Expires``) says, 24 hours when it says nothing, clamped between
five minutes and 48 hours (the spec's cap). A failure -- no connection, a non-200
status, a body over :data:`MAX_BODY_BYTES`, bad JSON, no or an invalid ``m.server``
-- is cached for a back-off that doubles with each consecutive failure of the
host, from ``error_base_ms`` up to an hour (the spec's recommendation). Redirects
are followed (at most :data:`MAX_REDIRECTS`, which also ends loops). The body is
JSON whatever its ``Content-Type``. Concurrent lookups of one host share one
request.

Connections go through :class:`~ranvier.federation.policy_resolver.PolicyResolver`, an
aiohttp resolver (imported with aiohttp at the first lookup) that uses the
:class:`~ranvier.federation.dns_cache.DnsCache` and drops addresses the
:class:`~ranvier.federation.dns_cache.AddressPolicy` forbids, for the first request
and every redirect alike.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from ranvier.core.ids import InvalidIdentifier, parse_server_name
from ranvier.federation.dns_cache import AddressPolicy, DnsCache

if TYPE_CHECKING:
    import aiohttp

MAX_BODY_BYTES = 50 * 1024
MAX_REDIRECTS = 5
DEFAULT_CACHE_MS = 24 * 60 * 60 * 1000
MAX_CACHE_MS = 48 * 60 * 60 * 1000
MIN_CACHE_MS = 5 * 60 * 1000
MAX_ERROR_CACHE_MS = 60 * 60 * 1000
REQUEST_TIMEOUT_S = 10.0

_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


def default_well_known_url(host: str) -> str:
    """``https://<host>/.well-known/matrix/server`` (the spec's URL)."""
    return f"https://{host}/.well-known/matrix/server"


@dataclass(slots=True)
class _Entry:
    delegated: str | None
    expires: float
    failures: int


def cache_lifetime_ms(headers: Any, now: float) -> int:
    """How long to keep a successful answer, from its response headers (clamped)."""
    lifetime: int | None = None
    cache_control = headers.get("Cache-Control", "")
    if re.search(r"no-store|no-cache", cache_control, re.IGNORECASE):
        lifetime = 0
    else:
        m = _MAX_AGE.search(cache_control)
        if m is not None:
            lifetime = int(m.group(1)) * 1000
        elif headers.get("Expires"):
            import email.utils  # rarely needed: not imported at start-up

            try:
                expires = email.utils.parsedate_to_datetime(headers["Expires"]).timestamp()
                lifetime = int((expires - now) * 1000)
            except (TypeError, ValueError, IndexError):
                lifetime = 0
    if lifetime is None:
        lifetime = DEFAULT_CACHE_MS
    return max(MIN_CACHE_MS, min(lifetime, MAX_CACHE_MS))


class WellKnownFetcher:
    """Fetches and caches ``m.server`` delegations."""

    def __init__(
        self,
        dns: DnsCache,
        policy: AddressPolicy,
        *,
        verify_tls: bool = True,
        url_for: Callable[[str], str] = default_well_known_url,
        error_base_ms: int = 2 * 60 * 1000,
        user_agent: str = "ranvier",
    ) -> None:
        self.dns = dns
        self.policy = policy
        self.verify_tls = verify_tls
        self.url_for = url_for
        self.error_base_ms = error_base_ms
        self.user_agent = user_agent
        self._cache: dict[str, _Entry] = {}
        self._inflight: dict[str, asyncio.Task[str | None]] = {}
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0
        """How many HTTP lookups were made (for tests and metrics)."""

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            import aiohttp  # imported on first use: an idle server does not need the client

            from ranvier.federation.policy_resolver import PolicyResolver

            resolver = PolicyResolver(self.dns, self.policy)
            connector = aiohttp.TCPConnector(resolver=resolver, ssl=self.verify_tls, limit=50)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
                headers={"User-Agent": self.user_agent},
            )
        return self._session

    async def delegated_server(self, host: str) -> str | None:
        """The ``m.server`` of ``host``'s well-known file, or None (cached)."""
        now = time.monotonic()
        entry = self._cache.get(host)
        if entry is not None and entry.expires > now:
            return entry.delegated
        task = self._inflight.get(host)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._refresh(host))
            self._inflight[host] = task
            task.add_done_callback(lambda _t: self._inflight.pop(host, None))
        return await asyncio.shield(task)

    async def _refresh(self, host: str) -> str | None:
        previous = self._cache.get(host)
        delegated, lifetime_ms = await self._fetch(host)
        now = time.monotonic()
        if delegated is None:
            failures = (previous.failures if previous else 0) + 1
            backoff = min(self.error_base_ms * 2 ** (failures - 1), MAX_ERROR_CACHE_MS)
            self._cache[host] = _Entry(None, now + backoff / 1000, failures)
        else:
            self._cache[host] = _Entry(delegated, now + lifetime_ms / 1000, 0)
        if len(self._cache) > 10_000:
            for key in [k for k, v in self._cache.items() if v.expires <= now]:
                del self._cache[key]
        return delegated

    async def _fetch(self, host: str) -> tuple[str | None, int]:
        import aiohttp  # imported on first use (a no-op afterwards)

        self.requests += 1
        try:
            async with self._get_session().get(
                self.url_for(host), allow_redirects=True, max_redirects=MAX_REDIRECTS
            ) as resp:
                if resp.status != 200:
                    return None, 0
                body = await resp.content.read(MAX_BODY_BYTES + 1)
                if len(body) > MAX_BODY_BYTES:
                    return None, 0
                lifetime = cache_lifetime_ms(resp.headers, time.time())
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
            return None, 0
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None, 0
        server = data.get("m.server") if isinstance(data, dict) else None
        if not isinstance(server, str):
            return None, 0
        try:
            parse_server_name(server)
        except InvalidIdentifier:
            return None, 0
        return server, lifetime

    async def close(self) -> None:
        """Close the HTTP session."""
        for task in list(self._inflight.values()):
            task.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None

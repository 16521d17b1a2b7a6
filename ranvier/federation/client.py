"""The outbound federation HTTP client: discovery, X-Matrix signing, JSON, errors.

Spec: server-server-api "API standards", "TLS", "Resolving server names" and
"Request Authentication".

Theory of operation: :meth:`FederationClient.request` resolves the destination
(:class:`~ranvier.federation.discovery.ServerResolver`), signs the request with
this server's key (the ``uri`` signed is exactly the percent-encoded path and query
sent), and tries the resolved addresses in order until one answers. The URL names
the IP address; the ``Host`` header and the TLS name (SNI and certificate check)
are the ones discovery prescribes, so delegation is transparent to the remote end.
TLS certificates are verified unless ``disable_tls_validation`` is configured.

Each destination has its own aiohttp session and connection pool (kept alive
unless ``disable_http_keepalives``), so a connection made for one server name is
never reused for another; the least recently used pools are closed beyond
:data:`MAX_POOLS`. Redirects are not followed. Responses are JSON objects read up
to ``max_response_bytes``.

Failures raise :class:`RemoteError` (the remote answered non-2xx; ``status``,
``errcode``, ``error`` and the decoded body) or :class:`Unreachable` (discovery,
connection, TLS, timeout, or a malformed response), both :class:`FederationError`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import orjson

from ranvier import __version__
from ranvier.core.canonical_json import encode_canonical_json
from ranvier.core.signing import SigningKey
from ranvier.federation.discovery import DiscoveryError, ServerResolver
from ranvier.federation.xmatrix import authorization_header

if TYPE_CHECKING:
    import aiohttp

MAX_POOLS = 512
DEFAULT_TIMEOUT_S = 60.0
CONNECT_TIMEOUT_S = 10.0
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024

QueryArgs = Mapping[str, str | int | Sequence[str]]


class FederationError(Exception):
    """A federation request failed."""


class Unreachable(FederationError):
    """The destination could not be resolved, reached, or gave no JSON answer."""


class RemoteError(FederationError):
    """The destination answered with an error status."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        self.errcode: str | None = None
        self.error = ""
        if isinstance(body, dict):
            errcode, error = body.get("errcode"), body.get("error")
            self.errcode = errcode if isinstance(errcode, str) else None
            self.error = error if isinstance(error, str) else ""
        super().__init__(f"{status} {self.errcode or ''} {self.error}".strip())


def encode_query(query: QueryArgs | None) -> str:
    """A query string with ``%20``-style escapes (repeated values for sequences)."""
    if not query:
        return ""
    pairs: list[tuple[str, str]] = []
    for name, value in query.items():
        if isinstance(value, (str, int)):
            pairs.append((name, str(value)))
        else:
            pairs.extend((name, str(v)) for v in value)
    return urlencode(pairs, quote_via=quote, safe="")


async def _read_body(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The response body, or its first ``limit`` bytes when it is longer.
    (``StreamReader.read(n)`` returns what has arrived, *up to* ``n`` bytes: a large
    body takes several reads.)"""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await resp.content.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def path_segment(value: str) -> str:
    """Percent-encode one path segment (user ids, room ids, server names...)."""
    return quote(value, safe="")


class FederationClient:
    """Signed JSON requests to other homeservers."""

    def __init__(
        self,
        server_name: str,
        signing_key: SigningKey,
        resolver: ServerResolver,
        *,
        verify_tls: bool = True,
        keepalive: bool = True,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.server_name = server_name
        self.signing_key = signing_key
        self.resolver = resolver
        self.verify_tls = verify_tls
        self.keepalive = keepalive
        self.timeout_s = timeout_s
        self.max_response_bytes = max_response_bytes
        self.user_agent = f"ranvier/{__version__}"
        self._pools: OrderedDict[str, aiohttp.ClientSession] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()

    def _pool(self, destination: str) -> aiohttp.ClientSession:
        session = self._pools.get(destination)
        if session is not None and not session.closed:
            self._pools.move_to_end(destination)
            return session
        import aiohttp  # imported on first use: an idle server does not need the client

        connector = aiohttp.TCPConnector(
            ssl=self.verify_tls,
            force_close=not self.keepalive,
            limit_per_host=20,
            enable_cleanup_closed=True,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": self.user_agent},
            auto_decompress=True,
            skip_auto_headers=("Content-Type",),
        )
        self._pools[destination] = session
        while len(self._pools) > MAX_POOLS:
            _, old = self._pools.popitem(last=False)
            task = asyncio.get_running_loop().create_task(old.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        return session

    async def request(
        self,
        method: str,
        destination: str,
        path: str,
        query: QueryArgs | None = None,
        content: Any = None,
        *,
        sign: bool = True,
        timeout_s: float | None = None,
    ) -> Any:
        """Send a request and return the decoded JSON answer.

        ``path`` is already percent-encoded (see :func:`path_segment`); ``content``
        is a JSON value sent as the body (None: no body).
        """
        import aiohttp  # imported on first use (a no-op afterwards)
        from yarl import URL

        method = method.upper()
        qs = encode_query(query)
        uri = f"{path}?{qs}" if qs else path
        try:
            target = await self.resolver.resolve(destination)
        except DiscoveryError as e:
            raise Unreachable(str(e)) from None
        headers = {"Host": target.host_header}
        body: bytes | None = None
        if content is not None:
            body = encode_canonical_json(content)
            headers["Content-Type"] = "application/json"
        if sign:
            headers["Authorization"] = authorization_header(
                self.signing_key, self.server_name, destination, method, uri, content
            )
        timeout = aiohttp.ClientTimeout(
            total=timeout_s or self.timeout_s, connect=CONNECT_TIMEOUT_S
        )
        session = self._pool(destination)
        last: Exception | None = None
        for ip, port in target.addresses:
            host = f"[{ip}]" if ":" in ip else ip
            url = URL(f"https://{host}:{port}{uri}", encoded=True)
            try:
                async with session.request(
                    method,
                    url,
                    data=body,
                    headers=headers,
                    timeout=timeout,
                    allow_redirects=False,
                    server_hostname=target.tls_name,
                ) as resp:
                    raw = await _read_body(resp, self.max_response_bytes + 1)
                    status = resp.status
            except (aiohttp.ClientError, OSError, TimeoutError) as e:
                last = e
                continue
            return self._decode(destination, status, raw)
        raise Unreachable(f"cannot reach {destination}: {last!r}")

    def _decode(self, destination: str, status: int, raw: bytes) -> Any:
        if len(raw) > self.max_response_bytes:
            raise Unreachable(f"response from {destination} is too large")
        try:
            data = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            data = None
            if 200 <= status < 300:
                raise Unreachable(f"response from {destination} is not JSON") from None
        if not 200 <= status < 300:
            raise RemoteError(status, data)
        return data

    async def get_json(
        self,
        destination: str,
        path: str,
        query: QueryArgs | None = None,
        *,
        sign: bool = True,
        timeout_s: float | None = None,
    ) -> Any:
        """``GET`` and decode JSON."""
        return await self.request("GET", destination, path, query, sign=sign, timeout_s=timeout_s)

    async def put_json(
        self,
        destination: str,
        path: str,
        content: Any,
        query: QueryArgs | None = None,
        *,
        timeout_s: float | None = None,
    ) -> Any:
        """``PUT`` a JSON body and decode the JSON answer."""
        return await self.request("PUT", destination, path, query, content, timeout_s=timeout_s)

    async def post_json(
        self,
        destination: str,
        path: str,
        content: Any,
        query: QueryArgs | None = None,
        *,
        timeout_s: float | None = None,
    ) -> Any:
        """``POST`` a JSON body and decode the JSON answer."""
        return await self.request("POST", destination, path, query, content, timeout_s=timeout_s)

    async def close(self) -> None:
        """Close every connection pool."""
        pools = list(self._pools.values())
        self._pools.clear()
        for session in pools:
            with contextlib.suppress(Exception):
                await session.close()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

"""Server discovery against real loopback servers: well-known (cache, back-off,
redirects, limits), SRV through a loopback DNS server, address policy, and the
outbound client's Host header, SNI, signing, TLS verification and errors."""

from __future__ import annotations

import asyncio
import inspect
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ranvier.core.signing import generate_signing_key
from ranvier.federation.client import FederationClient, RemoteError, Unreachable
from ranvier.federation.discovery import DiscoveryError, ResolvedServer, ServerResolver
from ranvier.federation.dns import lookup_srv
from ranvier.federation.dns_cache import AddressPolicy, DnsCache
from ranvier.federation.well_known import (
    DEFAULT_CACHE_MS,
    MAX_BODY_BYTES,
    MAX_CACHE_MS,
    MIN_CACHE_MS,
    WellKnownFetcher,
    cache_lifetime_ms,
)
from ranvier.federation.xmatrix import parse_authorization, verify_request
from ranvier.http.tls import make_self_signed
from tests.federation.dns_server import start_dns

LOOPBACK_ONLY = AddressPolicy(["10.0.0.0/8", "127.0.0.0/8"], ["0.0.0.0/0"], allow_loopback=True)
"""Denies private networks but admits loopback, as ``allow_loopback`` does for tests."""
HOSTS = {
    "deleg.test": ["127.0.0.1"],
    "plain.test": ["127.0.0.1"],
    "t.test": ["127.0.0.1"],
    "old.test": ["127.0.0.1"],
    "srvhost.test": ["127.0.0.1"],
    "inner.test": ["10.0.0.7"],
}


class WellKnownSite:
    """Serves ``/{host}/.well-known/matrix/server`` from a table of handlers."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[web.Request], Any]] = {}
        self.hits: list[str] = []
        self.port = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        host = request.match_info["host"]
        self.hits.append(host)
        route = self.routes.get(host)
        if route is None:
            return web.Response(status=404)
        result = route(request)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, web.HTTPException):
            raise result
        assert isinstance(result, web.StreamResponse)
        return result

    def url(self, host: str) -> str:
        return f"http://127.0.0.1:{self.port}/{host}/.well-known/matrix/server"


async def loop_redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/loop")


@pytest.fixture
async def site() -> AsyncIterator[WellKnownSite]:
    s = WellKnownSite()
    app = web.Application()
    app.router.add_get("/{host}/.well-known/matrix/server", s.handle)
    app.router.add_get("/loop", loop_redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    s.port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield s
    await runner.cleanup()


def json_wk(
    body: Any, headers: dict[str, str] | None = None
) -> Callable[[web.Request], web.Response]:
    return lambda r: web.json_response(body, headers=headers)


async def make_resolver(
    site: WellKnownSite,
    zone: dict[str, list[tuple[int, int, int, str, int]]] | None = None,
    **wk: Any,
) -> tuple[ServerResolver, Any]:
    dns = DnsCache(hosts=HOSTS)
    fetcher = WellKnownFetcher(dns, LOOPBACK_ONLY, url_for=site.url, **wk)
    server, addr = await start_dns(zone or {})

    async def srv(name: str) -> Any:
        return await lookup_srv(name, [addr], timeout=1.0)

    return ServerResolver(dns, LOOPBACK_ONLY, fetcher, srv_lookup=srv), server


async def test_ip_literals_and_explicit_ports(site: WellKnownSite) -> None:
    resolver, dns = await make_resolver(site)
    assert await resolver.resolve("127.0.0.1:1234") == ResolvedServer(
        "127.0.0.1:1234", (("127.0.0.1", 1234),), "127.0.0.1:1234", None
    )
    assert await resolver.resolve("127.0.0.2") == ResolvedServer(
        "127.0.0.2", (("127.0.0.2", 8448),), "127.0.0.2", None
    )
    assert await resolver.resolve("plain.test:99") == ResolvedServer(
        "plain.test:99", (("127.0.0.1", 99),), "plain.test:99", "plain.test"
    )
    assert site.hits == [] and dns.asked == []  # no well-known, no SRV for these
    with pytest.raises(DiscoveryError, match="denied"):
        await resolver.resolve("10.0.0.1:8448")
    with pytest.raises(DiscoveryError, match="denied"):
        await resolver.resolve("inner.test:8448")
    with pytest.raises(DiscoveryError, match="invalid server name"):
        await resolver.resolve("bad_name!")
    await resolver.well_known.close()


async def test_loopback_denied_without_the_test_override(site: WellKnownSite) -> None:
    default = AddressPolicy(
        ["127.0.0.1/8", "10.0.0.0/8", "::1/128"], ["0.0.0.0/0"], allow_loopback=False
    )
    assert not default.permits("127.0.0.1") and not default.permits("::ffff:127.0.0.1")
    assert default.permits("93.184.216.34") and not default.permits("2001:db8::1")
    assert AddressPolicy([], ["::/0"]).permits("2001:db8::1")
    assert not default.permits("not-an-ip")
    resolver = ServerResolver(DnsCache(), default, WellKnownFetcher(DnsCache(), default))
    with pytest.raises(DiscoveryError):
        await resolver.resolve("127.0.0.1:8448")


async def test_well_known_delegation_with_port_is_cached(site: WellKnownSite) -> None:
    site.routes["example.test"] = json_wk(
        {"m.server": "deleg.test:4321"}, {"Cache-Control": "max-age=600"}
    )
    resolver, dns = await make_resolver(site)
    expected = ResolvedServer(
        "example.test", (("127.0.0.1", 4321),), "deleg.test:4321", "deleg.test"
    )
    assert await resolver.resolve("example.test") == expected
    assert await resolver.resolve("example.test") == expected
    assert site.hits == ["example.test"] and dns.asked == []
    await resolver.well_known.close()


async def test_well_known_to_ip_literal(site: WellKnownSite) -> None:
    site.routes["example.test"] = json_wk({"m.server": "127.0.0.3"})
    resolver, _ = await make_resolver(site)
    assert await resolver.resolve("example.test") == ResolvedServer(
        "example.test", (("127.0.0.3", 8448),), "127.0.0.3", None
    )
    await resolver.well_known.close()


async def test_delegated_host_uses_srv(site: WellKnownSite) -> None:
    site.routes["example.test"] = json_wk({"m.server": "deleg.test"})
    zone = {"_matrix-fed._tcp.deleg.test": [(10, 0, 5555, "t.test", 300)]}
    resolver, dns = await make_resolver(site, zone)
    assert await resolver.resolve("example.test") == ResolvedServer(
        "example.test", (("127.0.0.1", 5555),), "deleg.test", "deleg.test"
    )
    assert dns.asked == ["_matrix-fed._tcp.deleg.test"]
    await resolver.resolve("example.test")
    assert dns.asked == ["_matrix-fed._tcp.deleg.test"]  # SRV answer cached for its TTL
    await resolver.well_known.close()


async def test_no_well_known_srv_then_deprecated_srv_then_8448(site: WellKnownSite) -> None:
    zone = {
        "_matrix-fed._tcp.srvhost.test": [(0, 0, 7001, "t.test", 60)],
        "_matrix._tcp.old.test": [(0, 0, 7002, "t.test", 60)],
    }
    resolver, dns = await make_resolver(site, zone)
    assert await resolver.resolve("srvhost.test") == ResolvedServer(
        "srvhost.test", (("127.0.0.1", 7001),), "srvhost.test", "srvhost.test"
    )
    assert await resolver.resolve("old.test") == ResolvedServer(
        "old.test", (("127.0.0.1", 7002),), "old.test", "old.test"
    )
    assert await resolver.resolve("plain.test") == ResolvedServer(
        "plain.test", (("127.0.0.1", 8448),), "plain.test", "plain.test"
    )
    assert dns.asked == [
        "_matrix-fed._tcp.srvhost.test",
        "_matrix-fed._tcp.old.test",
        "_matrix._tcp.old.test",
        "_matrix-fed._tcp.plain.test",
        "_matrix._tcp.plain.test",
    ]
    await resolver.well_known.close()


@pytest.mark.parametrize(
    "route",
    [
        lambda r: web.Response(status=500),
        lambda r: web.Response(body=b"{not json"),
        lambda r: web.json_response({"m.server": 5}),
        lambda r: web.json_response({"m.server": "bad host!"}),
        lambda r: web.json_response(["m.server"]),
        lambda r: web.Response(
            body=b'{"m.server": "deleg.test:1", "pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
        ),
        lambda r: web.HTTPFound("/loop"),
    ],
)
async def test_invalid_well_known_falls_through(site: WellKnownSite, route: Any) -> None:
    site.routes["plain.test"] = route
    resolver, _ = await make_resolver(site)
    resolved = await resolver.resolve("plain.test")
    assert resolved.addresses == (("127.0.0.1", 8448),) and resolved.host_header == "plain.test"
    await resolver.well_known.close()


async def test_redirects_are_followed_and_content_type_ignored(site: WellKnownSite) -> None:
    site.routes["plain.test"] = lambda r: web.HTTPFound(site.url("deleg.test"))
    site.routes["deleg.test"] = lambda r: web.Response(
        body=b'{"m.server": "deleg.test:8000"}', content_type="text/plain"
    )
    resolver, _ = await make_resolver(site)
    assert (await resolver.resolve("plain.test")).host_header == "deleg.test:8000"
    assert site.hits == ["plain.test", "deleg.test"]
    await resolver.well_known.close()


async def test_failures_back_off_exponentially(site: WellKnownSite) -> None:
    resolver, _ = await make_resolver(site, error_base_ms=200)
    fetcher = resolver.well_known
    assert await fetcher.delegated_server("plain.test") is None
    assert await fetcher.delegated_server("plain.test") is None
    assert site.hits == ["plain.test"]  # failure cached
    await asyncio.sleep(0.25)
    site.routes["plain.test"] = json_wk({"m.server": "deleg.test:1"})
    assert await fetcher.delegated_server("plain.test") == "deleg.test:1"
    assert len(site.hits) == 2
    # a failing host waits 200 ms, then 400 ms, ...
    for _ in range(2):
        await fetcher.delegated_server("old.test")
        await asyncio.sleep(0.25)
    await fetcher.delegated_server("old.test")
    assert site.hits.count("old.test") == 2
    await fetcher.close()


async def test_concurrent_lookups_share_one_request(site: WellKnownSite) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.1)
        return web.json_response({"m.server": "deleg.test:2"})

    site.routes["plain.test"] = slow
    resolver, _ = await make_resolver(site)
    results = await asyncio.gather(
        *(resolver.well_known.delegated_server("plain.test") for _ in range(5))
    )
    assert results == ["deleg.test:2"] * 5 and site.hits == ["plain.test"]
    await resolver.well_known.close()


def test_cache_lifetime_from_headers() -> None:
    now = 1_700_000_000.0
    assert cache_lifetime_ms({}, now) == DEFAULT_CACHE_MS
    assert cache_lifetime_ms({"Cache-Control": "public, max-age=3600"}, now) == 3_600_000
    assert cache_lifetime_ms({"Cache-Control": "max-age=99999999"}, now) == MAX_CACHE_MS
    assert cache_lifetime_ms({"Cache-Control": "no-store"}, now) == MIN_CACHE_MS
    # now is Tue, 14 Nov 2023 22:13:20 GMT
    assert cache_lifetime_ms({"Expires": "Tue, 14 Nov 2023 23:13:20 GMT"}, now) == 3_600_000
    assert cache_lifetime_ms({"Expires": "garbage"}, now) == MIN_CACHE_MS


async def test_dns_cache() -> None:
    cache = DnsCache(enabled=True, size=1, lifetime_ms=60_000)
    assert await cache.resolve("localhost") and cache.lookups == 1
    await cache.resolve("localhost")
    assert cache.lookups == 1
    assert await cache.resolve("::1") == ["::1"] and cache.lookups == 1
    off = DnsCache(enabled=False)
    await off.resolve("localhost")
    await off.resolve("localhost")
    assert off.lookups == 2


# -- the outbound client -------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.sni: list[str | None] = []
        self.status = 200
        self.body: bytes = b'{"ok": true}'


@pytest.fixture
async def tls_target(tmp_path: Path) -> AsyncIterator[tuple[Recorder, int]]:
    rec = Recorder()
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    make_self_signed(cert, key, ("deleg.test", "127.0.0.1"))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.sni_callback = lambda sock, name, c: rec.sni.append(name)

    async def handle(request: web.Request) -> web.Response:
        rec.requests.append(
            (request.method, request.raw_path, dict(request.headers), await request.read())
        )
        return web.Response(status=rec.status, body=rec.body, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await tcp.start()
    yield rec, tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    await runner.cleanup()


async def test_client_host_header_sni_and_signature(
    site: WellKnownSite, tls_target: tuple[Recorder, int]
) -> None:
    rec, port = tls_target
    site.routes["example.test"] = json_wk({"m.server": f"deleg.test:{port}"})
    resolver, _ = await make_resolver(site)
    key = generate_signing_key("c1")
    client = FederationClient("me.test", key, resolver, verify_tls=False)
    try:
        got = await client.put_json(
            "example.test",
            "/_matrix/federation/v1/send/t%2F1",
            {"pdus": []},
            {"a": "x y", "b": ["1", "2"]},
        )
        assert got == {"ok": True}
        method, raw_path, headers, body = rec.requests[-1]
        assert (method, raw_path) == ("PUT", "/_matrix/federation/v1/send/t%2F1?a=x%20y&b=1&b=2")
        assert headers["Host"] == f"deleg.test:{port}"
        assert rec.sni[-1] == "deleg.test"
        auth = parse_authorization(headers["Authorization"])
        assert (auth.origin, auth.destination, auth.key) == ("me.test", "example.test", key.key_id)
        # the signature covers the target exactly as sent, and the body
        verify_request(auth, key.verify_key, "PUT", raw_path, "example.test", {"pdus": []})
        assert body == b'{"pdus":[]}'

        await client.get_json(f"127.0.0.1:{port}", "/_matrix/key/v2/server", sign=False)
        assert "Authorization" not in rec.requests[-1][2]
        assert rec.requests[-1][2]["Host"] == f"127.0.0.1:{port}"
        assert rec.sni[-1] is None  # no SNI for IP literals

        rec.status, rec.body = 403, b'{"errcode": "M_FORBIDDEN", "error": "no"}'
        with pytest.raises(RemoteError) as err:
            await client.get_json("example.test", "/x")
        assert (err.value.status, err.value.errcode, err.value.error) == (403, "M_FORBIDDEN", "no")
        rec.status, rec.body = 502, b"<html>bad gateway</html>"
        with pytest.raises(RemoteError) as err:
            await client.get_json("example.test", "/x")
        assert (err.value.status, err.value.errcode) == (502, None)
        rec.status = 200
        with pytest.raises(Unreachable, match="not JSON"):
            await client.get_json("example.test", "/x")
        with pytest.raises(Unreachable):
            await client.get_json("127.0.0.1:1", "/x")
        with pytest.raises(Unreachable, match="denied"):
            await client.get_json("10.9.9.9:8448", "/x")
    finally:
        await client.close()
        await resolver.well_known.close()

    strict = FederationClient("me.test", key, resolver, verify_tls=True)
    try:
        with pytest.raises(Unreachable, match=r"(?i)certificate"):
            await strict.get_json(f"127.0.0.1:{port}", "/x")
    finally:
        await strict.close()

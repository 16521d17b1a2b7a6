"""The app chain over a real server: CORS, error rendering, access log, metrics."""

from __future__ import annotations

import logging

import pytest

from ranvier.http.metrics import Metrics, metrics_handler
from ranvier.http.parse import parse_json_body, require_str
from ranvier.http.ratelimit import RateLimiter
from ranvier.http.router import Router
from ranvier.http.types import MatrixError, Request, Response, json_response
from tests.http.conftest import Serve, default_router
from tests.http.test_metrics import parse_exposition

CORS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET, POST, PUT, DELETE, OPTIONS",
    "access-control-allow-headers": "X-Requested-With, Content-Type, Authorization, Date",
}


async def test_cors_preflight_does_not_call_handler(serve: Serve) -> None:
    calls: list[str] = []

    async def handler(request: Request) -> Response:
        calls.append(request.method)
        return json_response({})

    router = Router()
    router.add("PUT", "/_matrix/client/v3/rooms/{roomId}/send/{type}/{txn}", handler)
    run = await serve(router)
    client = await run.connect()
    r = await client.request("OPTIONS", "/_matrix/client/v3/rooms/!a:b/send/m.room.message/1")
    assert r.status == 204
    for name, value in CORS.items():
        assert r.headers[name] == value
    assert calls == []
    r = await client.request("OPTIONS", "/_matrix/client/v3/unknown")
    assert r.status == 404


async def test_cors_headers_on_matrix_and_well_known_only(serve: Serve) -> None:
    async def ok(request: Request) -> Response:
        return json_response({})

    router = default_router()
    router.add("GET", "/.well-known/matrix/client", ok)
    router.add("GET", "/metrics-like", ok)
    run = await serve(router)
    client = await run.connect()
    for path in ("/_matrix/client/versions", "/.well-known/matrix/client"):
        r = await client.request("GET", path)
        assert r.headers["access-control-allow-origin"] == "*"
    r = await client.request("GET", "/_matrix/client/v3/nope")
    assert r.status == 404
    assert r.headers["access-control-allow-origin"] == "*"
    r = await client.request("GET", "/metrics-like")
    assert "access-control-allow-origin" not in r.headers


async def test_shared_response_object_is_not_mutated(serve: Serve) -> None:
    shared = json_response({"static": True})

    async def handler(request: Request) -> Response:
        return shared

    router = Router()
    router.add("GET", "/_matrix/static", handler)
    run = await serve(router)
    client = await run.connect()
    for _ in range(3):
        r = await client.request("GET", "/_matrix/static")
        assert r.raw_head.count(b"Access-Control-Allow-Origin") == 1
    assert shared.body == b'{"static":true}'


async def test_unexpected_exception_is_500_json_without_details(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(request: Request) -> Response:
        raise KeyError("very-secret-internal-detail")

    router = Router()
    router.add("GET", "/_matrix/broken", broken)
    run = await serve(router)
    client = await run.connect()
    with caplog.at_level(logging.ERROR, logger="ranvier.http.app"):
        r = await client.request("GET", "/_matrix/broken")
    assert r.status == 500
    assert r.json() == {"errcode": "M_UNKNOWN", "error": "Internal server error"}
    assert b"very-secret" not in r.body and b"Traceback" not in r.body
    assert any("very-secret-internal-detail" in (rec.exc_text or "") for rec in caplog.records)
    # The connection is still usable.
    assert (await client.request("GET", "/_matrix/broken")).status == 500


async def test_matrix_error_and_parse_errors(serve: Serve) -> None:
    async def needs_body(request: Request) -> Response:
        body = parse_json_body(request)
        return json_response({"name": require_str(body, "name")})

    router = Router()
    router.add("POST", "/_matrix/x", needs_body)
    run = await serve(router)
    client = await run.connect()
    r = await client.request("POST", "/_matrix/x", b"{not json")
    assert (r.status, r.json()["errcode"]) == (400, "M_NOT_JSON")  # type: ignore[index]
    r = await client.request("POST", "/_matrix/x", b"[1]")
    assert (r.status, r.json()["errcode"]) == (400, "M_BAD_JSON")  # type: ignore[index]
    r = await client.request("POST", "/_matrix/x", b"{}")
    assert (r.status, r.json()["errcode"]) == (400, "M_MISSING_PARAM")  # type: ignore[index]
    r = await client.request("POST", "/_matrix/x", b'{"name": 5}')
    assert (r.status, r.json()["errcode"]) == (400, "M_INVALID_PARAM")  # type: ignore[index]
    r = await client.request("POST", "/_matrix/x", b'{"name": "n"}')
    assert r.json() == {"name": "n"}


async def test_rate_limited_endpoint_gives_429_and_retry_after(serve: Serve) -> None:
    limiter = RateLimiter(threshold=2, cooloff_ms=1500, exempt=frozenset())

    async def limited(request: Request) -> Response:
        limiter.check(request.client_ip)
        return json_response({})

    router = Router()
    router.add("POST", "/_matrix/limited", limited)
    run = await serve(router)
    client = await run.connect()
    assert (await client.request("POST", "/_matrix/limited", b"{}")).status == 200
    assert (await client.request("POST", "/_matrix/limited", b"{}")).status == 200
    r = await client.request("POST", "/_matrix/limited", b"{}")
    assert r.status == 429
    body = r.json()
    assert body["errcode"] == "M_LIMIT_EXCEEDED"  # type: ignore[index]
    retry_ms = body["retry_after_ms"]  # type: ignore[index]
    assert 1000 < retry_ms <= 1500
    assert r.headers["retry-after"] == "2"


async def test_access_log_redacts_token(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.access")
    run = await serve(access_log=log)
    client = await run.connect()
    with caplog.at_level(logging.INFO, logger="test.access"):
        await client.request("GET", "/echo?access_token=syt_SECRET&since=s1")
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "test.access"]
    assert len(lines) == 1
    line = lines[0]
    assert "syt_SECRET" not in line
    assert "access_token=<redacted>" in line and "since=s1" in line
    assert "GET" in line and " 200 " in line and "ms" in line


async def test_metrics_recorded_and_served(serve: Serve) -> None:
    metrics = Metrics()
    router = default_router()
    router.add("GET", "/metrics", metrics_handler(metrics))
    run = await serve(router, metrics=metrics)
    metrics.add_gauge(
        "ranvier_http_connections", "Open connections.", lambda: run.server.connection_count
    )
    client = await run.connect()
    for _ in range(3):
        await client.request("GET", "/_matrix/client/versions")
    await client.request("GET", "/_matrix/client/v3/nope")
    metrics.db_seconds.observe(0.004)
    r = await client.request("GET", "/metrics")
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples, types = parse_exposition(r.body.decode())
    assert types["ranvier_http_requests_total"] == "counter"
    key = (
        "ranvier_http_requests_total",
        (("method", "GET"), ("route", "versions"), ("status", "200")),
    )
    assert samples[key] == 3
    key404 = (
        "ranvier_http_requests_total",
        (("method", "GET"), ("route", "<unmatched>"), ("status", "404")),
    )
    assert samples[key404] == 1
    count = samples[("ranvier_http_request_duration_seconds_count", (("route", "versions"),))]
    assert count == 3
    assert samples[("ranvier_db_seconds_count", ())] == 1
    assert samples[("ranvier_http_connections", ())] == 1


async def test_precheck_reports_unroutable() -> None:
    from ranvier.http.app import build_app

    app = build_app(default_router())
    assert app.precheck("POST", "/echo") is None
    refusal = app.precheck("POST", "/_matrix/nowhere")
    assert refusal is not None and refusal.status == 404
    assert ("Access-Control-Allow-Origin", "*") in refusal.headers


def test_matrix_error_extra_fields() -> None:
    error = MatrixError(403, "M_FORBIDDEN", "no", extra_field=1)
    response = error.to_response()
    assert response.status == 403
    assert b'"extra_field":1' in response.body


async def test_real_ip_header_replaces_socket_peer(serve: Serve) -> None:
    """sync_api.real_ip_header: behind a proxy the client address comes from its header."""

    async def whoami(request: Request) -> Response:
        return json_response({"ip": request.client_ip})

    router = Router()
    router.add("GET", "/ip", whoami)
    proxied = await serve(router, real_ip_header="X-Forwarded-For")
    client = await proxied.connect()
    r = await client.request("GET", "/ip", headers={"X-Forwarded-For": "203.0.113.7, 10.0.0.1"})
    assert r.json() == {"ip": "203.0.113.7"}
    r = await client.request("GET", "/ip")  # no header: the socket peer
    assert r.json() == {"ip": "127.0.0.1"}
    direct = await serve(router)  # not configured: the header is not trusted
    client = await direct.connect()
    r = await client.request("GET", "/ip", headers={"X-Forwarded-For": "203.0.113.7"})
    assert r.json() == {"ip": "127.0.0.1"}

"""The HTTP/1.1 server over real sockets: framing, limits, timeouts, pipelining, drain."""

from __future__ import annotations

import asyncio
import socket

import orjson

from ranvier.http.router import Router
from ranvier.http.server import HttpLimits
from ranvier.http.types import Request, Response, json_response
from tests.http.conftest import Serve, default_router, read_response


async def test_runs_on_uvloop() -> None:
    import uvloop

    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)


async def test_body_over_limit_is_413_too_large(serve: Serve) -> None:
    run = await serve(limits=HttpLimits(max_body_bytes=1000))
    client = await run.connect()
    r = await client.request("POST", "/echo", b"x" * 1001)
    assert r.status == 413
    assert r.json()["errcode"] == "M_TOO_LARGE"  # type: ignore[index]
    assert r.headers["connection"] == "close"
    assert await client.closed()
    # exactly at the limit is fine
    client = await run.connect()
    r = await client.request("POST", "/echo", b"y" * 1000)
    assert r.status == 200
    assert r.json()["body"] == "y" * 1000  # type: ignore[index]


async def test_declared_length_over_limit_answered_before_body(serve: Serve) -> None:
    run = await serve(limits=HttpLimits(max_body_bytes=1000))
    client = await run.connect()
    await client.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n")
    r = await client.response()
    assert r.status == 413
    assert await client.closed()


async def test_chunked_body_over_limit(serve: Serve) -> None:
    run = await serve(limits=HttpLimits(max_body_bytes=100))
    client = await run.connect()
    chunk = b"40\r\n" + b"z" * 64 + b"\r\n"
    await client.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    await client.send(chunk + chunk)
    r = await client.response()
    assert r.status == 413
    assert r.json()["errcode"] == "M_TOO_LARGE"  # type: ignore[index]


async def test_oversized_headers_rejected_then_closed(serve: Serve) -> None:
    run = await serve(limits=HttpLimits(max_header_bytes=2048))
    client = await run.connect()
    r = await client.request("GET", "/echo", headers={"X-Big": "a" * 3000})
    assert r.status == 431
    assert r.json()["errcode"] == "M_TOO_LARGE"  # type: ignore[index]
    assert await client.closed()


async def test_endless_header_line_is_bounded(serve: Serve) -> None:
    """A header that never ends, sent in pieces, is cut off near the limit."""
    run = await serve(limits=HttpLimits(max_header_bytes=4096))
    client = await run.connect()
    await client.send(b"GET /echo HTTP/1.1\r\nX-Endless: ")
    sent = 0
    try:
        for _ in range(200):
            await client.send(b"b" * 1024)
            sent += 1024
            await asyncio.sleep(0)
    except (ConnectionResetError, BrokenPipeError):
        pass
    r = await client.response()
    assert r.status == 431
    assert await client.closed()


async def test_slowloris_dropped_while_others_served(serve: Serve) -> None:
    run = await serve(limits=HttpLimits(header_timeout=1.0))
    slow = await run.connect()
    request = b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n\r\n"

    async def drip() -> int:
        sent = 0
        try:
            for byte in request:
                await slow.send(bytes([byte]))
                sent += 1
                await asyncio.sleep(0.25)
        except (ConnectionResetError, BrokenPipeError):
            pass
        return sent

    drip_task = asyncio.create_task(drip())
    fast = await run.connect()
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < 1.5:
        r = await fast.request("GET", "/echo")
        assert r.status == 200
        await asyncio.sleep(0.1)
    assert await slow.closed(timeout=3.0)
    sent = await drip_task
    assert sent < len(request)
    # The normal client is still connected and served.
    r = await fast.request("GET", "/echo")
    assert r.status == 200


async def test_idle_keepalive_closed(serve: Serve) -> None:
    run = await serve(limits=HttpLimits(keepalive_timeout=0.5))
    client = await run.connect()
    assert (await client.request("GET", "/echo")).status == 200
    assert await client.closed(timeout=3.0)


async def test_stalled_body_times_out(serve: Serve) -> None:
    run = await serve(limits=HttpLimits(body_timeout=0.5))
    client = await run.connect()
    await client.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    r = await client.response(timeout=3.0)
    assert r.status == 408
    assert await client.closed()


async def test_chunked_request_body(serve: Serve) -> None:
    run = await serve()
    client = await run.connect()
    await client.send(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
    )
    await asyncio.sleep(0.05)
    await client.send(b"6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
    r = await client.response()
    assert r.status == 200
    assert r.json()["body"] == "hello world"  # type: ignore[index]


async def test_expect_continue_accepted(serve: Serve) -> None:
    run = await serve()
    client = await run.connect()
    await client.send(
        b"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
    )
    interim = await asyncio.wait_for(client.reader.readuntil(b"\r\n\r\n"), 5)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    await client.send(b"data")
    r = await client.response()
    assert r.status == 200
    assert r.json()["body"] == "data"  # type: ignore[index]


async def test_expect_continue_refused_when_too_large(serve: Serve) -> None:
    run = await serve(limits=HttpLimits(max_body_bytes=10))
    client = await run.connect()
    await client.send(
        b"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n"
    )
    r = await client.response()
    assert r.status == 413
    assert b"100 Continue" not in r.raw_head


async def test_expect_continue_refused_for_unknown_route(serve: Serve) -> None:
    run = await serve()
    client = await run.connect()
    await client.send(
        b"PUT /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
    )
    r = await client.response()
    assert r.status == 404
    assert r.json()["errcode"] == "M_UNRECOGNIZED"  # type: ignore[index]


async def test_pipelined_requests_answered_in_order(serve: Serve) -> None:
    router = Router()
    delays = {"a": 0.2, "b": 0.0, "c": 0.1}

    async def slow(request: Request) -> Response:
        name = request.path_params["n"]
        await asyncio.sleep(delays[name])
        return json_response({"n": name})

    router.add("GET", "/slow/{n}", slow)
    run = await serve(router)
    client = await run.connect()
    await client.send(
        b"".join(f"GET /slow/{n} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for n in "abc")
    )
    got = [(await client.response()).json() for _ in range(3)]
    assert got == [{"n": "a"}, {"n": "b"}, {"n": "c"}]


async def test_many_pipelined_requests_pause_and_resume(serve: Serve) -> None:
    queued: list[int] = []

    async def suspending(request: Request) -> Response:
        # Suspend so that later pipelined requests really queue up behind this one.
        await asyncio.sleep(0.001)
        (conn,) = run.server._connections
        queued.append(len(conn._queue))
        return json_response({"i": request.query_one("i")})

    router = Router()
    router.add("GET", "/q", suspending)
    router.add("POST", "/q", suspending)
    for limit in (4, 1):
        queued.clear()
        run = await serve(router, limits=HttpLimits(max_pipelined=limit))
        client = await run.connect()
        count = 200
        await client.send(
            b"".join(
                f"GET /q?i={i} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
                if i % 3
                else f"POST /q?i={i} HTTP/1.1\r\nContent-Length: 8\r\n\r\n\r\n\r\n\r\n\r\n".encode()
                for i in range(count)
            )
        )
        for i in range(count):
            r = await client.response()
            assert r.json() == {"i": str(i)}
        # Parsing stops at max_pipelined queued requests, not after the whole read.
        assert max(queued) <= limit
        assert limit == 1 or max(queued) >= 2
        await client.close()
        await run.server.shutdown(1.0)


async def test_connection_close_honoured(serve: Serve) -> None:
    run = await serve()
    client = await run.connect()
    r = await client.request("GET", "/echo", headers={"Connection": "close"})
    assert r.status == 200
    assert r.headers["connection"] == "close"
    assert await client.closed()


async def test_http10_closes_by_default_and_keeps_alive_on_request(serve: Serve) -> None:
    run = await serve()
    client = await run.connect()
    await client.send(b"GET /echo HTTP/1.0\r\n\r\n")
    r = await client.response()
    assert r.status == 200
    assert await client.closed()
    client = await run.connect()
    await client.send(b"GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert (await client.response()).status == 200
    await client.send(b"GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert (await client.response()).status == 200


async def test_head_has_length_but_no_body(serve: Serve) -> None:
    run = await serve()
    client = await run.connect()
    r = await client.request("HEAD", "/echo")
    assert r.status == 200
    assert int(r.headers["content-length"]) > 0
    # The next response on the connection starts right after the head: no body was sent.
    r = await client.request("GET", "/echo")
    assert r.json()["method"] == "GET"  # type: ignore[index]


async def test_malformed_request_is_400_and_closed(serve: Serve) -> None:
    run = await serve()
    for bad in (
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET /\xff HTTP/1.1\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    ):
        client = await run.connect()
        await client.send(bad)
        r = await client.response()
        assert r.status == 400, bad
        assert r.headers["connection"] == "close"
        assert await client.closed()


async def test_error_after_pipelined_request_keeps_order(serve: Serve) -> None:
    run = await serve()
    client = await run.connect()
    await client.send(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\nNOT HTTP AT ALL\r\n\r\n")
    assert (await client.response()).status == 200
    assert (await client.response()).status == 400
    assert await client.closed()


async def test_query_and_repeated_headers(serve: Serve) -> None:
    run = await serve()
    client = await run.connect()
    await client.send(
        b"GET /echo?a=1&a=2&b=&c=%C3%A9 HTTP/1.1\r\nHost: x\r\nX-M: 1\r\nx-m: 2\r\n\r\n"
    )
    body = (await client.response()).json()
    assert body["query"] == {"a": ["1", "2"], "b": [""], "c": ["é"]}  # type: ignore[index]
    assert body["headers"]["x-m"] == "1, 2"  # type: ignore[index]


async def test_ipv6_listener(serve: Serve) -> None:
    from ranvier.http.app import build_app
    from ranvier.http.server import HttpServer

    server = HttpServer(build_app(default_router()))
    addrs = await server.start("::1", 0)
    try:
        port = addrs[0][1]
        reader, writer = await asyncio.open_connection("::1", port)
        writer.write(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        r = await read_response(reader)
        assert r.status == 200
        assert r.json()["method"] == "GET"  # type: ignore[index]
        writer.close()
    finally:
        await server.shutdown(1.0)


async def test_unread_large_response_does_not_block_others(serve: Serve) -> None:
    big = b"x" * (8 * 1024 * 1024)

    async def large(request: Request) -> Response:
        return Response(200, big, content_type="application/octet-stream")

    router = default_router()
    router.add("GET", "/large", large)
    run = await serve(router, limits=HttpLimits(body_timeout=1.0))
    # A raw socket with a tiny receive buffer that never reads.
    hog = socket.create_connection(("127.0.0.1", run.port))
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    hog.sendall(b"GET /large HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
    try:
        client = await run.connect()
        for _ in range(20):
            r = await client.request("GET", "/echo")
            assert r.status == 200
        # The non-reading peer is aborted after body_timeout of paused writing.
        await asyncio.sleep(2.0)
        assert run.server.connection_count == 1
    finally:
        hog.close()


async def test_graceful_shutdown_finishes_in_flight(serve: Serve) -> None:
    started = asyncio.Event()

    async def slow(request: Request) -> Response:
        started.set()
        await asyncio.sleep(0.5)
        return json_response({"done": True})

    router = default_router()
    router.add("GET", "/slow", slow)
    run = await serve(router)
    busy = await run.connect()
    idle = await run.connect()
    assert (await idle.request("GET", "/echo")).status == 200
    await busy.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    await started.wait()
    shutdown = asyncio.create_task(run.server.shutdown(5.0))
    await asyncio.sleep(0.05)
    # New connections are refused while draining.
    refused = False
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", run.port)
        writer.close()
    except OSError:
        refused = True
    assert refused
    assert await idle.closed(timeout=1.0)
    r = await busy.response()
    assert r.status == 200
    assert r.json() == {"done": True}
    assert r.headers["connection"] == "close"
    await asyncio.wait_for(shutdown, 5.0)
    assert run.server.connection_count == 0


async def test_shutdown_grace_expiry_cancels_handler(serve: Serve) -> None:
    cancelled = asyncio.Event()

    async def forever(request: Request) -> Response:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return json_response({})

    router = Router()
    router.add("GET", "/forever", forever)
    run = await serve(router)
    client = await run.connect()
    await client.send(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.sleep(0.1)
    await asyncio.wait_for(run.server.shutdown(0.3), 3.0)
    assert cancelled.is_set()
    assert await client.closed()


async def test_app_exception_outside_build_app_is_500(serve: Serve) -> None:
    async def broken(request: Request) -> Response:
        raise RuntimeError("secret detail")

    run = await serve(broken)
    client = await run.connect()
    r = await client.request("GET", "/")
    assert r.status == 500
    assert b"secret" not in r.body
    assert orjson.loads(r.body)["errcode"] == "M_UNKNOWN"


async def test_context_and_errors_across_suspension(serve: Serve) -> None:
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    async def handler(request: Request) -> Response:
        var.set(request.path_params["v"])
        await asyncio.sleep(0.01)
        await asyncio.sleep(0)
        if request.path_params["v"] == "boom":
            raise ValueError("late failure")
        return json_response({"seen": var.get()})

    router = Router()
    router.add("GET", "/ctx/{v}", handler)
    run = await serve(router)
    clients = [await run.connect() for _ in range(3)]
    results = await asyncio.gather(*(c.request("GET", f"/ctx/c{i}") for i, c in enumerate(clients)))
    assert [r.json() for r in results] == [{"seen": f"c{i}"} for i in range(3)]
    r = await clients[0].request("GET", "/ctx/boom")
    assert r.status == 500
    # The value set by a handler does not leak into the next request on the connection.
    var_leak = await clients[0].request("GET", "/ctx/again")
    assert var_leak.json() == {"seen": "again"}
    assert var.get() == "unset"


async def test_route_specific_body_limit(serve: Serve) -> None:
    router = default_router()

    async def upload(request: Request) -> Response:
        return json_response({"size": len(request.body)})

    router.add("POST", "/_matrix/media/v3/upload", upload, max_body_bytes=5000)
    run = await serve(router, limits=HttpLimits(max_body_bytes=1000))
    client = await run.connect()
    r = await client.request("POST", "/_matrix/media/v3/upload", b"u" * 4000)
    assert r.json() == {"size": 4000}
    await client.send(
        b"POST /_matrix/media/v3/upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        + (b"3e8\r\n" + b"c" * 1000 + b"\r\n") * 4
        + b"0\r\n\r\n"
    )
    assert (await client.response()).json() == {"size": 4000}
    r = await client.request("POST", "/_matrix/media/v3/upload", b"u" * 5001)
    assert r.status == 413
    client = await run.connect()
    r = await client.request("POST", "/echo", b"e" * 1001)
    assert r.status == 413


async def test_header_injection_and_bad_bodies_become_500(serve: Serve) -> None:
    async def inject(request: Request) -> Response:
        return json_response({}, headers=[("X-Name", "a\r\nSet-Cookie: evil=1")])

    async def non_latin(request: Request) -> Response:
        return json_response({}, headers=[("Content-Disposition", "inline; filename=\u2603")])

    async def not_bytes(request: Request) -> Response:
        return Response(200, "text body")  # type: ignore[arg-type]

    router = Router()
    router.add("GET", "/inject", inject)
    router.add("GET", "/nonlatin", non_latin)
    router.add("GET", "/notbytes", not_bytes)
    run = await serve(router)
    client = await run.connect()
    for path in ("/inject", "/nonlatin", "/notbytes"):
        r = await client.request("GET", path)
        assert r.status == 500, path
        assert b"evil" not in r.raw_head
    assert (await client.request("GET", "/nowhere")).status == 404


async def test_handlers_run_inside_a_task(serve: Serve) -> None:
    """A handler's very first step may use asyncio.timeout and current_task (aiohttp does)."""

    async def handler(request: Request) -> Response:
        task = asyncio.current_task()
        async with asyncio.timeout(5):
            pass
        return json_response({"in_task": task is not None})

    router = Router()
    router.add("GET", "/task", handler)
    run = await serve(router)
    client = await run.connect()
    r = await client.request("GET", "/task")
    assert r.status == 200
    assert r.json() == {"in_task": True}

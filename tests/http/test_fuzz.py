"""Fuzzing the server with random and mutated requests.

Property: whatever bytes a client sends, the server does not crash, answers with a
well-formed response (any status but 5xx: the handler is trivial) or closes, and a
fresh, well-formed request on a new connection is still served.
"""

from __future__ import annotations

import asyncio
import contextlib

import uvloop
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ranvier.http.app import build_app
from ranvier.http.server import HttpLimits, HttpServer
from tests.http.conftest import default_router, read_response

VALID = [
    b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"PUT /_matrix/client/v3/profile/%40a%3Ab/displayname HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
    b"GET /echo?x=1&y HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.integers(0, 3))
        pos = draw(st.integers(0, len(data)))
        if op == 0 and data:
            del data[min(pos, len(data) - 1)]
        elif op == 1:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == 2 and data:
            data[min(pos, len(data) - 1)] = draw(st.integers(0, 255))
        else:
            data[pos:pos] = draw(
                st.sampled_from(
                    [
                        b"\r\n",
                        b"\r\n\r\n",
                        b":",
                        b" ",
                        b"%",
                        b"\x00",
                        b"Content-Length: 99999\r\n",
                        b"Transfer-Encoding: chunked\r\n",
                        b"Expect: 100-continue\r\n",
                        b"GET / HTTP/1.1",
                    ]
                )
            )
    return bytes(data)


payloads = st.one_of(
    st.binary(max_size=300), mutated(), st.lists(mutated(), max_size=3).map(b"".join)
)


class Harness:
    def __init__(self) -> None:
        self.loop = uvloop.new_event_loop()
        self.server = HttpServer(
            build_app(default_router()),
            HttpLimits(
                max_header_bytes=1024,
                max_body_bytes=4096,
                header_timeout=0.3,
                body_timeout=0.3,
                keepalive_timeout=0.3,
            ),
        )
        self.port = self.loop.run_until_complete(self.server.start("127.0.0.1", 0))[0][1]

    async def exchange(self, payload: bytes) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(payload)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            # Read responses until the server closes or goes quiet (timeouts are short).
            while True:
                try:
                    r = await read_response(reader, timeout=2.0)
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                except TimeoutError:
                    break
                assert 100 <= r.status < 500, r.raw_head
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        # The server still serves a normal request.
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(VALID[0])
        r = await read_response(reader)
        assert r.status == 200
        writer.close()

    def close(self) -> None:
        self.loop.run_until_complete(self.server.shutdown(1.0))
        self.loop.close()


def test_fuzzed_requests_never_break_the_server() -> None:
    harness = Harness()
    try:

        @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(payloads)
        def check(payload: bytes) -> None:
            harness.loop.run_until_complete(asyncio.wait_for(harness.exchange(payload), 20))

        check()
        assert harness.server.connection_count <= 2
    finally:
        harness.close()

"""Fixtures for the HTTP layer tests: a real server on 127.0.0.1, a raw socket client.

The tests run on uvloop, the loop ranvier runs on in production.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import uvloop

from ranvier.http.app import build_app
from ranvier.http.router import Router
from ranvier.http.server import App, HttpLimits, HttpServer
from ranvier.http.types import Request, Response, json_response


def pytest_asyncio_loop_factories(config: object, item: object) -> dict[str, object]:
    """Run these tests on uvloop only."""
    return {"uvloop": uvloop.new_event_loop}


class RawResponse:
    """One HTTP response read off a socket."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes, raw_head: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.raw_head = raw_head

    def json(self) -> object:
        import orjson

        return orjson.loads(self.body)


async def read_response(
    reader: asyncio.StreamReader, *, head_only: bool = False, timeout: float = 5.0
) -> RawResponse:
    """Read one response (Content-Length framed, as the server always sends)."""
    raw_head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    lines = raw_head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = b""
    if length and not head_only:
        body = await asyncio.wait_for(reader.readexactly(length), timeout)
    return RawResponse(status, headers, body, raw_head)


class Client:
    """A raw TCP connection to the server under test."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self, **kwargs: object) -> RawResponse:
        return await read_response(self.reader, **kwargs)  # type: ignore[arg-type]

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> RawResponse:
        head = f"{method} {path} HTTP/1.1\r\nHost: test\r\n"
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n"
        if body or method in ("POST", "PUT"):
            head += f"Content-Length: {len(body)}\r\n"
        await self.send(head.encode() + b"\r\n" + body)
        return await self.response(head_only=(method == "HEAD"))

    async def closed(self, timeout: float = 5.0) -> bool:
        """True when the server closes the connection (reads and discards until EOF)."""
        try:
            while True:
                data = await asyncio.wait_for(self.reader.read(65536), timeout)
                if not data:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            await self.writer.wait_closed()


class Running:
    def __init__(self, server: HttpServer, host: str, port: int) -> None:
        self.server = server
        self.host = host
        self.port = port
        self.clients: list[Client] = []

    async def connect(self) -> Client:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        client = Client(reader, writer)
        self.clients.append(client)
        return client


async def echo(request: Request) -> Response:
    return json_response(
        {
            "method": request.method,
            "path": request.path,
            "raw_path": request.raw_path,
            "query": request.query,
            "params": request.path_params,
            "body": request.body.decode("latin-1"),
            "headers": request.headers,
        }
    )


def default_router() -> Router:
    router = Router()
    router.add("GET", "/_matrix/client/versions", echo, name="versions")
    router.add("POST", "/echo", echo)
    router.add("PUT", "/echo", echo)
    router.add("GET", "/echo", echo)
    router.add("GET", "/_matrix/client/v3/profile/{userId}/displayname", echo)
    router.add("PUT", "/_matrix/client/v3/profile/{userId}/displayname", echo)
    return router


Serve = Callable[..., Awaitable[Running]]
"""The ``serve`` fixture: ``await serve(router_or_app=None, limits=None, **build_app_kwargs)``."""


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start servers (torn down after the test): ``await serve(router_or_app, limits)``."""
    running: list[Running] = []

    async def start(
        target: Router | App | None = None,
        limits: HttpLimits | None = None,
        **app_kwargs: object,
    ) -> Running:
        if target is None:
            target = default_router()
        app = build_app(target, **app_kwargs) if isinstance(target, Router) else target  # type: ignore[arg-type]
        server = HttpServer(app, limits or HttpLimits())
        addrs = await server.start("127.0.0.1", 0)
        run = Running(server, "127.0.0.1", addrs[0][1])
        running.append(run)
        return run

    yield start
    for run in running:
        for client in run.clients:
            await client.close()
        await run.server.shutdown(1.0)

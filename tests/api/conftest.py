"""The whole server in one process on a real port, driven over HTTP with aiohttp."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ranvier.config.schema import (
    ClientApiConfig,
    Config,
    DatabaseConfig,
    GlobalConfig,
    MetricsConfig,
    RateLimitConfig,
    UserApiConfig,
)
from ranvier.server import Homeserver

SERVER_NAME = "test.local"
SHARED_SECRET = "s3cr3t-shared"


def make_config(tmp_path: Path, **client_api: Any) -> Config:
    """A config for tests: registration open, bcrypt cost 4, rate limiting off."""
    defaults: dict[str, Any] = {
        "registration_disabled": False,
        "guests_disabled": False,
        "registration_shared_secret": SHARED_SECRET,
        "rate_limiting": RateLimitConfig(enabled=False),
    }
    defaults.update(client_api)
    return Config(
        global_=GlobalConfig(
            server_name=SERVER_NAME,
            database=DatabaseConfig(connection_string=f"file:{tmp_path / 'hs.sqlite'}"),
            well_known_client_name="https://matrix.test.local",
            well_known_server_name="matrix.test.local:443",
            metrics=MetricsConfig(enabled=True),
        ),
        client_api=ClientApiConfig(**defaults),
        user_api=UserApiConfig(bcrypt_cost=4),
    )


class Client:
    """A tiny JSON client for one running server."""

    def __init__(self, session: aiohttp.ClientSession, base: str, server: Homeserver) -> None:
        self.session = session
        self.base = base
        self.server = server

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """Send a request; return ``(status, decoded JSON or text)``."""
        hdrs = dict(headers or {})
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        data: bytes | None = raw
        if body is not None:
            import orjson

            data = orjson.dumps(body)
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        async with self.session.request(method, self.base + path, data=data, headers=hdrs) as r:
            text = await r.text()
            try:
                return r.status, await r.json(content_type=None)
            except ValueError:
                return r.status, text

    async def register(self, username: str, password: str = "pw", **extra: Any) -> dict[str, Any]:
        """Register with ``m.login.dummy`` UIA; return the response body."""
        body: dict[str, Any] = {"username": username, "password": password, **extra}
        status, first = await self.request("POST", "/_matrix/client/v3/register", body)
        assert status == 401, first
        body["auth"] = {"type": "m.login.dummy", "session": first["session"]}
        status, done = await self.request("POST", "/_matrix/client/v3/register", body)
        assert status == 200, done
        return dict(done)


ClientFactory = Callable[..., Any]


@pytest.fixture
async def start_server(tmp_path: Path) -> AsyncIterator[ClientFactory]:
    """``await start_server(**client_api_overrides)`` -> a :class:`Client`."""
    servers: list[Homeserver] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(lifetime_ms: int | None = None, **client_api: Any) -> Client:
        config = make_config(tmp_path / str(len(servers)), **client_api)
        (tmp_path / str(len(servers))).mkdir()
        kw = {} if lifetime_ms is None else {"access_token_lifetime_ms": lifetime_ms}
        server = await Homeserver.open(config, **kw)
        servers.append(server)
        bound = await server.start(("127.0.0.1", 0))
        session = aiohttp.ClientSession()
        sessions.append(session)
        return Client(session, f"http://127.0.0.1:{bound[0][1]}", server)

    yield start
    for session in sessions:
        await session.close()
    for server in servers:
        await server.stop(1.0)


@pytest.fixture
async def client(start_server: ClientFactory) -> Client:
    """A server with the default test config."""
    result: Client = await start_server()
    return result


__all__ = ["SERVER_NAME", "SHARED_SECRET", "Client", "dataclasses"]

"""A whole server on SQLite and on PostgreSQL, driven over HTTP: the ``hs`` fixture used by
the alias, directory, upgrade, knock, restricted-join, forget and hierarchy API tests.

Import it with ``from tests.api.test_directory_fixtures import hs  # noqa: F401``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ranvier.config.schema import DatabaseConfig
from ranvier.server import Homeserver
from tests.api.conftest import Client, make_config

V3 = "/_matrix/client/v3"
V1 = "/_matrix/client/v1"


class Hs(Client):
    """A :class:`Client` with room helpers."""

    async def user(self, name: str) -> tuple[str, str]:
        """Register ``name``; return ``(user_id, access_token)``."""
        body = await self.register(name)
        return str(body["user_id"]), str(body["access_token"])

    async def ok(self, method: str, path: str, body: Any = None, *, token: str) -> Any:
        """A request that must answer 200; return the body."""
        status, out = await self.request(method, path, body, token=token)
        assert status == 200, (method, path, status, out)
        return out

    async def err(
        self, method: str, path: str, body: Any = None, *, token: str | None = None
    ) -> tuple[int, str]:
        """A request that must fail; return ``(status, errcode)``."""
        status, out = await self.request(method, path, body, token=token)
        assert status >= 400, (method, path, status, out)
        return status, str(out.get("errcode"))

    async def create_room(self, token: str, **body: Any) -> str:
        """``POST /createRoom``; return the room id."""
        return str((await self.ok("POST", f"{V3}/createRoom", body, token=token))["room_id"])

    async def state(self, token: str, room_id: str, event_type: str, state_key: str = "") -> Any:
        """The content of a state event (must exist)."""
        return await self.ok(
            "GET", f"{V3}/rooms/{room_id}/state/{event_type}/{state_key}", token=token
        )

    async def put_state(
        self, token: str, room_id: str, event_type: str, content: Any, state_key: str = ""
    ) -> tuple[int, Any]:
        """``PUT`` a state event; return ``(status, body)``."""
        return await self.request(
            "PUT", f"{V3}/rooms/{room_id}/state/{event_type}/{state_key}", content, token=token
        )


@pytest.fixture
async def hs(database_url: str, tmp_path: Path) -> AsyncIterator[Hs]:
    """The whole server over a fresh database of each kind, on a loopback port."""
    base = make_config(tmp_path)
    config = dataclasses.replace(
        base,
        global_=dataclasses.replace(
            base.global_, database=DatabaseConfig(connection_string=database_url)
        ),
    )
    server = await Homeserver.open(config)
    bound = await server.start(("127.0.0.1", 0))
    session = aiohttp.ClientSession()
    try:
        yield Hs(session, f"http://127.0.0.1:{bound[0][1]}", server)
    finally:
        await session.close()
        await server.stop(1.0)

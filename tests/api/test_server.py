"""The composition root's entry points used by the CLI."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp
import pytest

from ranvier.server import create_account, run_homeserver
from ranvier.users.accounts import UserIdTaken
from tests.api.conftest import SERVER_NAME, make_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_create_account_then_run_and_login(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    user_id = await create_account(config, "admin", "adminpw", True)
    assert user_id == f"@admin:{SERVER_NAME}"
    with pytest.raises(UserIdTaken):
        await create_account(config, "admin", "x", False)

    port = _free_port()
    task = asyncio.create_task(run_homeserver(config, ("127.0.0.1", port), None, None, None))
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/_matrix/client/versions") as r:
                        assert r.status == 200
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            login = {"type": "m.login.password", "user": "admin", "password": "adminpw"}
            async with http.post(
                f"http://127.0.0.1:{port}/_matrix/client/v3/login", json=login
            ) as r:
                assert r.status == 200 and (await r.json())["user_id"] == user_id
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    # Drained and closed: the port no longer accepts connections.
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass

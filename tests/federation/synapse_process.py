"""A real Synapse on loopback for interop tests, and a small client for it and ranvier.

Synapse runs from its own virtualenv (``RANVIER_SYNAPSE_PYTHON``), named
``127.0.0.1:<port>`` (an IP literal: server discovery connects directly, step 1 of
"Resolving server names") with one TLS listener serving the client, federation and key
resources. Test-only settings let it talk to ranvier on loopback: certificate checks
off (``federation_verify_certificates: false``), no IP range blacklist, no trusted key
servers. Registration is open without verification so tests make users over the
Client-Server API. The process runs in its own session and is always stopped
(SIGTERM to its group, SIGKILL after 15 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import yaml

from ranvier.http.tls import make_self_signed
from tests.federation.peers import free_port

START_TIMEOUT_S = 90.0
WAIT_S = 30.0
"""Every wait for the other server is bounded by this."""


class Synapse:
    """A running Synapse."""

    def __init__(self, process: asyncio.subprocess.Process, port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.name = f"127.0.0.1:{port}"
        self.base = f"https://127.0.0.1:{port}"
        self.log = log

    def log_tail(self, chars: int = 3000) -> str:
        """The end of Synapse's output (for failure messages)."""
        return self.log.read_text(errors="replace")[-chars:]


async def _run(*argv: str, cwd: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, out.decode(errors="replace")


@contextlib.asynccontextmanager
async def run_synapse(
    python: str, work: Path, extra: dict[str, Any] | None = None
) -> AsyncIterator[Synapse]:
    """Generate a config in ``work``, start Synapse, yield it once it answers, stop it."""
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cfg_path = work / "homeserver.yaml"
    await _run(
        python,
        "-m",
        "synapse.app.homeserver",
        "--server-name",
        f"127.0.0.1:{port}",
        "--config-path",
        str(cfg_path),
        "--generate-config",
        "--report-stats=no",
        "--data-directory",
        str(work),
        cwd=work,
    )
    cert, key = work / "tls.crt", work / "tls.key"
    make_self_signed(cert, key, ("127.0.0.1",))
    cfg: dict[str, Any] = yaml.safe_load(cfg_path.read_text())
    cfg["listeners"] = [
        {
            "port": port,
            "bind_addresses": ["127.0.0.1"],
            "type": "http",
            "tls": True,
            "x_forwarded": False,
            "resources": [{"names": ["client", "federation", "keys"], "compress": False}],
        }
    ]
    cfg.update(
        tls_certificate_path=str(cert),
        tls_private_key_path=str(key),
        federation_verify_certificates=False,
        federation_ip_range_blacklist=[],
        ip_range_blacklist=[],
        ip_range_whitelist=["127.0.0.1"],
        trusted_key_servers=[],
        suppress_key_server_warning=True,
        enable_registration=True,
        enable_registration_without_verification=True,
        bcrypt_rounds=4,
        report_stats=False,
    )
    # Rate limits would throttle the tests' bursts: no off switch, so make them huge.
    for limiter in ("rc_message", "rc_joins", "rc_registration", "rc_login"):
        cfg[limiter] = {"per_second": 10000, "burst_count": 100000}
    cfg["rc_joins"] = {
        "local": {"per_second": 10000, "burst_count": 100000},
        "remote": {"per_second": 10000, "burst_count": 100000},
    }
    cfg["rc_federation"] = {
        "window_size": 1000,
        "sleep_limit": 100000,
        "sleep_delay": 1,
        "reject_limit": 100000,
        "concurrent": 100,
    }
    cfg.update(extra or {})
    cfg_path.write_text(yaml.safe_dump(cfg))
    log = work / "stdout.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            python,
            "-m",
            "synapse.app.homeserver",
            "--config-path",
            str(cfg_path),
            cwd=work,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    server = Synapse(process, port, log)
    try:
        await _wait_ready(server)
        yield server
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                os.killpg(process.pid, signal.SIGKILL)
                await process.wait()


async def _wait_ready(server: Synapse) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT_S
    async with aiohttp.ClientSession() as session:
        while loop.time() < deadline:
            if server.process.returncode is not None:
                break
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(server.base + "/_matrix/key/v2/server", ssl=False) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.3)
    raise AssertionError(f"Synapse did not start:\n{server.log_tail()}")


async def register(base: str, username: str, password: str = "pw-12345") -> tuple[str, str]:
    """Register ``username`` through the UIA dummy flow; ``(user_id, access_token)``."""
    url = base + "/_matrix/client/v3/register"
    body: dict[str, Any] = {"username": username, "password": password}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=body, ssl=False) as resp:
            first = await resp.json()
        if "access_token" in first:
            return str(first["user_id"]), str(first["access_token"])
        body["auth"] = {"type": "m.login.dummy", "session": first["session"]}
        async with session.post(url, json=body, ssl=False) as resp:
            done = await resp.json()
            assert resp.status == 200, done
    return str(done["user_id"]), str(done["access_token"])


def seg(value: str) -> str:
    """A path segment, percent-encoded."""
    return quote(value, safe="")


class ClientUser:
    """A user of a homeserver driven over its Client-Server API."""

    def __init__(self, base: str, user_id: str, token: str) -> None:
        self.base = base
        self.user_id = user_id
        self.token = token
        self._txn = 0

    async def call(
        self, method: str, path: str, body: Any = None, *, expect: int | None = 200
    ) -> Any:
        """A request; asserts the status when ``expect`` is set."""
        headers = {"Authorization": f"Bearer {self.token}"}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method, self.base + path, json=body, headers=headers, ssl=False
            ) as resp,
        ):
            data = await resp.json(content_type=None)
            if expect is not None:
                assert resp.status == expect, (method, path, resp.status, data)
            return data

    async def create_room(self, **body: Any) -> str:
        """``POST /createRoom``."""
        return str((await self.call("POST", "/_matrix/client/v3/createRoom", body))["room_id"])

    async def join(self, room_id: str, via: str) -> None:
        """``POST /join/{roomId}?server_name=via``."""
        path = f"/_matrix/client/v3/join/{seg(room_id)}?server_name={seg(via)}&via={seg(via)}"
        await self.call("POST", path, {})

    async def send(self, room_id: str, body: str) -> str:
        """Send an ``m.room.message``; its event id."""
        self._txn += 1
        path = f"/_matrix/client/v3/rooms/{seg(room_id)}/send/m.room.message/t{self._txn}"
        answer = await self.call("PUT", path, {"msgtype": "m.text", "body": body})
        return str(answer["event_id"])

    async def put_state(self, room_id: str, event_type: str, content: Any, key: str = "") -> str:
        """Set a state event; its event id."""
        path = f"/_matrix/client/v3/rooms/{seg(room_id)}/state/{seg(event_type)}/{seg(key)}"
        return str((await self.call("PUT", path, content))["event_id"])

    async def get_state(self, room_id: str, event_type: str, key: str = "") -> Any:
        """A state event's content, or None when absent (404)."""
        path = f"/_matrix/client/v3/rooms/{seg(room_id)}/state/{seg(event_type)}/{seg(key)}"
        data = await self.call("GET", path, expect=None)
        return None if "errcode" in data else data

    async def state(self, room_id: str) -> dict[tuple[str, str], str]:
        """``GET /rooms/{roomId}/state`` as ``{(type, state_key): event_id}``."""
        events = await self.call("GET", f"/_matrix/client/v3/rooms/{seg(room_id)}/state")
        return {(e["type"], e["state_key"]): e["event_id"] for e in events}

    async def has_event(self, room_id: str, event_id: str) -> bool:
        """Whether ``GET /rooms/{roomId}/event/{eventId}`` finds it."""
        path = f"/_matrix/client/v3/rooms/{seg(room_id)}/event/{seg(event_id)}"
        return "event_id" in await self.call("GET", path, expect=None)

    async def messages(self, room_id: str, limit: int = 50) -> list[Any]:
        """The latest timeline events, newest first (``GET /messages?dir=b``)."""
        path = f"/_matrix/client/v3/rooms/{seg(room_id)}/messages?dir=b&limit={limit}"
        return list((await self.call("GET", path))["chunk"])

    async def joined_rooms(self) -> list[str]:
        """``GET /joined_rooms``."""
        return list((await self.call("GET", "/_matrix/client/v3/joined_rooms"))["joined_rooms"])


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, timeout: float = WAIT_S
) -> None:
    """Poll ``check`` until true; fail after ``timeout`` seconds naming ``what``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"not reached within {timeout:.0f} s: {what}")
        await asyncio.sleep(0.1)

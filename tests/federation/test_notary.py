"""The notary role of ``/_matrix/key/v2/query`` against a scripted origin server.

Spec: server-server-api "Querying Keys Through Another Server" (keys_query.yaml).
The origin is a small HTTPS server whose ``GET /_matrix/key/v2/server`` answers what
each test scripts (a signed key response, or an error), so the tests can see when
the notary asks it again: a key it never saw, a cached response not valid until the
``minimum_valid_until_ts`` asked for (even while the back-off of a failed fetch
runs), and never for one that is. Expired keys are still served when nothing better
comes, and a key the origin stops listing is not forgotten.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from ranvier.core.signing import SigningKey, generate_signing_key, sign_json
from ranvier.http.tls import make_self_signed
from tests.federation.peers import Peer, start_peer

DAY_MS = 24 * 60 * 60 * 1000


class Origin:
    """A key server whose answers the test scripts (``answer``), counting requests."""

    def __init__(self) -> None:
        self.port = 0
        self.requests = 0
        self.answer: tuple[int, Any] = (404, {})

    @property
    def name(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        status, body = self.answer
        return web.json_response(body, status=status)

    def serve_key(self, key: SigningKey, valid_until_ts: int) -> dict[str, Any]:
        """Answer with a response listing only ``key``, self-signed."""
        response = sign_json(
            {
                "server_name": self.name,
                "valid_until_ts": valid_until_ts,
                "verify_keys": {key.key_id: {"key": key.verify_key_base64}},
                "old_verify_keys": {},
            },
            self.name,
            key,
        )
        self.answer = (200, response)
        return response


@pytest.fixture
async def origin(tmp_path: Path) -> AsyncIterator[Origin]:
    o = Origin()
    make_self_signed(tmp_path / "origin.crt", tmp_path / "origin.key", ("127.0.0.1",))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "origin.crt", tmp_path / "origin.key")
    app = web.Application()
    app.router.add_get("/_matrix/key/v2/server", o.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    o.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield o
    await runner.cleanup()


async def _query(notary: Peer, origin: Origin, key_id: str, minimum: int) -> list[Any]:
    body = {"server_keys": {origin.name: {key_id: {"minimum_valid_until_ts": minimum}}}}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{notary.base}/_matrix/key/v2/query", json=body, ssl=False) as resp,
    ):
        assert resp.status == 200
        answer = await resp.json()
    entries: list[Any] = answer["server_keys"]
    return entries


async def test_old_get_form_with_a_key_id(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None], origin: Origin
) -> None:
    notary = await start_peer(tmp_path / "n", database=databases["n"])
    peers.append(notary)
    key = generate_signing_key("k")
    origin.serve_key(key, int(time.time() * 1000) + DAY_MS)
    url = f"{notary.base}/_matrix/key/v2/query/{origin.name}/{key.key_id}"
    async with aiohttp.ClientSession() as session, session.get(url, ssl=False) as resp:
        assert resp.status == 200
        answer = await resp.json()
    (entry,) = answer["server_keys"]
    assert key.key_id in entry["verify_keys"]
    assert set(entry["signatures"]) == {origin.name, notary.name}
    # Cached and valid: asking again (either form) does not ask the origin.
    async with aiohttp.ClientSession() as session:
        async with session.get(url, ssl=False) as resp:
            assert resp.status == 200
        url = f"{notary.base}/_matrix/key/v2/query/{origin.name}"
        async with session.get(url, ssl=False) as resp:
            assert len((await resp.json())["server_keys"]) == 1
    assert origin.requests == 1


async def test_expired_key_served_and_never_overwritten(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None], origin: Origin
) -> None:
    notary = await start_peer(tmp_path / "n", database=databases["n"])
    peers.append(notary)
    expiry = int(time.time() * 1000) - DAY_MS
    key0 = generate_signing_key("key_0")
    origin.serve_key(key0, expiry)

    # An expired key is what the origin has: it is served.
    (entry,) = await _query(notary, origin, key0.key_id, 0)
    assert key0.key_id in entry["verify_keys"] and origin.requests == 1
    # Asked to be valid later than it is: the origin is asked again, every time,
    # the failed fetch's back-off notwithstanding; the expired key is still served,
    # also when the origin fails.
    (entry,) = await _query(notary, origin, key0.key_id, expiry + 1000)
    assert entry["valid_until_ts"] == expiry and origin.requests == 2
    origin.answer = (400, {})
    (entry,) = await _query(notary, origin, key0.key_id, expiry + 1000)
    assert entry["valid_until_ts"] == expiry and origin.requests == 3

    # A key never seen is fetched although the origin has a cached response.
    key1 = generate_signing_key("key_1")
    origin.serve_key(key1, expiry + 10)
    (entry,) = await _query(notary, origin, key1.key_id, 0)
    assert list(entry["verify_keys"]) == [key1.key_id] and origin.requests == 4
    # The origin forgets key_1 (answers with key_2 only): key_1 stays known.
    key2 = generate_signing_key("key_2")
    origin.serve_key(key2, expiry + 20)
    entries = await _query(notary, origin, key1.key_id, int(time.time() * 1000))
    assert origin.requests == 5
    assert [list(e["verify_keys"]) for e in entries] == [[key1.key_id]]
    # Valid until the minimum asked for: served from the cache, the origin not asked.
    entries = await _query(notary, origin, key1.key_id, expiry + 10)
    assert [list(e["verify_keys"]) for e in entries] == [[key1.key_id]]
    assert origin.requests == 5

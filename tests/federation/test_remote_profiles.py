"""Profiles of remote users through the client API (client-server-api "Profiles"): A asks
B with ``/query/profile``; B's refusals and absence become the client's 404/403/502
(:mod:`ranvier.federation.profile_query`). And an ``X-Matrix`` origin that is not a
valid server name is a 400 (server-server-api "Request Authentication", "Server names").
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import orjson

from ranvier.core.signing import generate_signing_key
from ranvier.federation.xmatrix import authorization_header
from tests.federation.helpers import call, login, start_two
from tests.federation.peers import Peer


async def test_remote_profile_is_asked_of_its_server(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    token = await login(a, "alice")
    bob = f"@bob:{b.name}"
    await b.hs.accounts.create_account(bob, "pw")
    await b.hs.profiles.set_field(bob, "displayname", "Bob of B")
    await b.hs.profiles.set_field(bob, "avatar_url", "mxc://b/bob")

    base = "/_matrix/client/v3/profile"
    status, body = await call(a, "GET", f"{base}/{bob}/displayname", token)
    assert (status, body) == (200, {"displayname": "Bob of B"})
    status, body = await call(a, "GET", f"{base}/{bob}/avatar_url", token)
    assert (status, body) == (200, {"avatar_url": "mxc://b/bob"})
    status, body = await call(a, "GET", f"{base}/{bob}", token)
    assert status == 200
    assert body["displayname"] == "Bob of B" and body["avatar_url"] == "mxc://b/bob"

    # A field bob never set, and a user B does not have: 404 M_NOT_FOUND.
    status, body = await call(a, "GET", f"{base}/{bob}/m.tz", token)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await call(a, "GET", f"{base}/@nobody:{b.name}/displayname", token)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")

    # A server that cannot be reached: 502, not a 500.
    await b.stop()
    peers.remove(b)
    status, body = await call(a, "GET", f"{base}/{bob}/displayname", token)
    assert (status, body["errcode"]) == (502, "M_UNKNOWN")


async def test_non_numeric_port_in_origin_is_400(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, _ = await start_two(tmp_path, peers, databases)
    key = generate_signing_key("1")
    user = f"@alice:{a.name}"
    path = f"/_matrix/federation/v1/query/profile?user_id={user}&field=displayname"
    header = authorization_header(key, "localhost:http", a.name, "GET", path, None)
    async with (
        aiohttp.ClientSession() as session,
        session.get(a.base + path, headers={"Authorization": header}, ssl=False) as resp,
    ):
        body = orjson.loads(await resp.read())
    assert (resp.status, body["errcode"]) == (400, "M_UNAUTHORIZED")

"""Two and three real ranvier servers on loopback HTTPS: key fetching, X-Matrix
authentication accepted and rejected, notaries, the keyring's caches and back-off."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from ranvier.config.schema import KeyPerspective, PerspectiveKey
from ranvier.core.signing import generate_signing_key, verify_json_signature
from ranvier.federation.client import RemoteError, path_segment
from ranvier.federation.key_response import parse_key_response
from ranvier.federation.keyring import Keyring
from ranvier.federation.xmatrix import authorization_header
from ranvier.http.types import MatrixError, Request
from tests.federation.peers import Peer, start_peer

PROFILE = "/_matrix/federation/v1/query/profile"
DAY_MS = 24 * 3600 * 1000


async def raw_request(
    peer: Peer, method: str, uri: str, authorization: str | None, body: bytes | None = None
) -> tuple[int, Any]:
    headers = {"Authorization": authorization} if authorization is not None else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, URL(peer.base + uri, encoded=True), data=body, headers=headers, ssl=False
        ) as resp,
    ):
        return resp.status, await resp.json(content_type=None)


async def test_keys_published_and_fetched(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    expired_at = int(time.time() * 1000) - DAY_MS
    a = await start_peer(tmp_path / "a", database=databases["a"], old_key_expired_at=expired_at)
    b = await start_peer(tmp_path / "b", database=databases["b"])
    peers += [a, b]
    async with (
        aiohttp.ClientSession() as session,
        session.get(a.base + "/_matrix/key/v2/server", ssl=False) as resp,
    ):
        assert resp.status == 200 and resp.content_type == "application/json"
        published = await resp.json()
    keys = parse_key_response(published, expected_server=a.name, fetched_ts=0, from_server=a.name)
    assert {k.key_id: k.expired_ts for k in keys} == {
        a.key.key_id: None,
        a.old_keys[0].key_id: expired_at,
    }
    assert published["valid_until_ts"] > time.time() * 1000 + 6 * DAY_MS
    # The old form with a key id in the path (still asked by Synapse and Sytest) answers
    # the same document.
    async with (
        aiohttp.ClientSession() as session,
        session.get(a.base + "/_matrix/key/v2/server/ed25519%3Aanything", ssl=False) as resp,
    ):
        assert resp.status == 200
        assert await resp.json() == published

    keyring = b.hs.federation.keyring
    got = await keyring.get_key(a.name, a.key.key_id)
    assert (
        got is not None and got.verify_key == a.key.verify_key_bytes and got.from_server == a.name
    )
    old = await keyring.get_key(a.name, a.old_keys[0].key_id, at_ts=expired_at - 1)
    assert old is not None and old.verify_key == a.old_keys[0].verify_key_bytes
    assert await keyring.get_key(a.name, a.old_keys[0].key_id, at_ts=expired_at + 1) is None
    assert keyring.fetches == 1
    stored = await keyring.store.keys_for(a.name)
    assert {k.key_id for k in stored} == {a.key.key_id, a.old_keys[0].key_id}

    # The database copy survives the origin going away and a fresh keyring.
    await a.stop()
    peers.remove(a)
    fresh = Keyring(b.hs.federation.local_keys, keyring.store, b.hs.federation.client)
    again = await fresh.get_key(a.name, a.key.key_id)
    assert again is not None and again.verify_key == a.key.verify_key_bytes and fresh.fetches == 0


async def test_signed_requests_accepted(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a = await start_peer(tmp_path / "a", database=databases["a"])
    b = await start_peer(tmp_path / "b", database=databases["b"])
    peers += [a, b]
    await a.hs.accounts.create_account(f"@alice:{a.name}", "pw")
    client = b.hs.federation.client
    assert await client.get_json(a.name, PROFILE, {"user_id": f"@alice:{a.name}"}) == {
        "displayname": "alice"
    }
    assert await client.get_json(
        a.name, PROFILE, {"user_id": f"@alice:{a.name}", "field": "displayname"}
    ) == {"displayname": "alice"}
    assert a.hs.federation.keyring.fetches == 1  # A fetched B's key once
    devices = await client.get_json(
        a.name, f"/_matrix/federation/v1/user/devices/{path_segment(f'@alice:{a.name}')}"
    )
    assert devices == {"user_id": f"@alice:{a.name}", "stream_id": 0, "devices": []}
    assert a.hs.federation.keyring.fetches == 1
    # requests with a body: the signature covers it (POST to the notary endpoint)
    answer = await client.post_json(a.name, "/_matrix/key/v2/query", {"server_keys": {}})
    assert answer == {"server_keys": []}
    # errors of the remote arrive as RemoteError with the errcode
    with pytest.raises(RemoteError) as err:
        await client.get_json(a.name, PROFILE, {"user_id": f"@nobody:{a.name}"})
    assert (err.value.status, err.value.errcode) == (404, "M_NOT_FOUND")
    with pytest.raises(RemoteError) as err:
        await client.get_json(a.name, PROFILE, {"user_id": f"@alice:{a.name}", "field": "m.tz"})
    assert (err.value.status, err.value.errcode) == (404, "M_NOT_FOUND")
    with pytest.raises(RemoteError) as err:
        await client.get_json(a.name, PROFILE, {"user_id": "@bob:elsewhere.org"})
    assert (err.value.status, err.value.errcode) == (400, "M_INVALID_PARAM")
    with pytest.raises(RemoteError) as err:
        await client.get_json(a.name, "/_matrix/federation/v1/user/devices/@x:elsewhere.org")
    assert (err.value.status, err.value.errcode) == (400, "M_INVALID_PARAM")
    version = await client.get_json(a.name, "/_matrix/federation/v1/version", sign=False)
    assert version["server"]["name"] == "ranvier"


async def test_bad_requests_rejected(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    expired_at = int(time.time() * 1000) - DAY_MS
    a = await start_peer(tmp_path / "a", database=databases["a"])
    b = await start_peer(tmp_path / "b", database=databases["b"], old_key_expired_at=expired_at)
    peers += [a, b]
    await a.hs.accounts.create_account(f"@alice:{a.name}", "pw")
    uri = f"{PROFILE}?user_id=%40alice%3A{a.name.replace(':', '%3A')}"

    def header(key: Any = None, *, key_id: str | None = None, **kw: Any) -> str:
        args: dict[str, Any] = {
            "origin": b.name,
            "destination": a.name,
            "method": "GET",
            "uri": uri,
            "content": None,
        }
        args.update(kw)
        signed = authorization_header(key or b.key, **args)
        if key_id is not None:
            signed = signed.replace(f'key="{(key or b.key).key_id}"', f'key="{key_id}"')
        return signed

    status, body = await raw_request(a, "GET", uri, header())
    assert status == 200 and body == {"displayname": "alice"}

    async def rejected(
        authz: str | None,
        *,
        method: str = "GET",
        data: bytes | None = None,
        status: int = 401,
        errcode: str = "M_UNAUTHORIZED",
    ) -> None:
        got_status, got = await raw_request(a, method, uri, authz, data)
        assert (got_status, got.get("errcode")) == (status, errcode), got

    await rejected(None)  # no header
    await rejected("X-Matrix origin=")  # malformed
    await rejected('X-Matrix origin="b",key="ed25519:x"')  # no sig
    await rejected(f"Bearer {b.key.key_id}")
    await rejected(header(destination="someone.else:8448"))  # wrong destination
    await rejected(header(origin="not a server name"), status=400)  # malformed, as Synapse
    await rejected(header(uri=uri + "&x=1"))  # signed another target
    await rejected(header(method="POST"))  # signed another method
    impostor = generate_signing_key(b.key.version)
    await rejected(header(impostor))  # wrong signature for B's key id
    await rejected(header(key_id="ed25519:unknown"))  # unknown key
    await rejected(header(b.old_keys[0]))  # old keys never sign requests
    # Bodies (no authenticated POST endpoint exists yet: ask A's authenticator directly).
    auth = a.hs.federation.authenticator

    def post(authz: str, body: bytes) -> Request:
        return Request("PUT", "/t", "/t", {}, {"authorization": authz}, body, "127.0.0.1")

    signed_put = header(method="PUT", uri="/t", content={"pdus": [1]})
    assert await auth.require_server(post(signed_put, b'{"pdus": [1]}')) == b.name
    for body, code in ((b'{"pdus": [2]}', 401), (b"", 401), (b"{nope", 400)):
        with pytest.raises(MatrixError) as err:
            await auth.require_server(post(signed_put, body))
        assert err.value.status == code
        assert err.value.errcode == ("M_NOT_JSON" if code == 400 else "M_UNAUTHORIZED")
    # a header without destination (senders before v1.3; they signed it all the same)
    legacy = header().replace(f'destination="{a.name}",', "")
    assert "destination" not in legacy
    status, _ = await raw_request(a, "GET", uri, legacy)
    assert status == 200
    # the deny hook (server ACLs) answers 403 to an authenticated origin
    a.hs.federation.authenticator.is_denied = lambda origin: origin == b.name
    await rejected(header(), status=403, errcode="M_FORBIDDEN")
    a.hs.federation.authenticator.is_denied = None
    # several credentials: the first that verifies wins
    status, _ = await raw_request(a, "GET", uri, header(impostor) + ", " + header())
    assert status == 200


async def test_expired_key_with_origin_down_is_refused(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a = await start_peer(tmp_path / "a", database=databases["a"])
    b = await start_peer(tmp_path / "b", database=databases["b"])
    peers += [a, b]
    await a.hs.accounts.create_account(f"@alice:{a.name}", "pw")
    await b.hs.federation.client.get_json(a.name, PROFILE, {"user_id": f"@alice:{a.name}"})
    keyring = a.hs.federation.keyring
    assert keyring.fetches == 1
    uri = f"{PROFILE}?user_id=%40alice%3A{a.name.replace(':', '%3A')}"
    authz = authorization_header(b.key, b.name, a.name, "GET", uri)
    await b.stop()
    peers.remove(b)
    status, _ = await raw_request(a, "GET", uri, authz)
    assert status == 200  # cached key still valid
    real_clock = keyring.clock
    keyring.clock = lambda: real_clock() + 8 * DAY_MS  # past the 7-day trust cap
    a.hs.federation.authenticator.clock = keyring.clock
    status, body = await raw_request(a, "GET", uri, authz)
    assert (status, body["errcode"]) == (401, "M_UNAUTHORIZED")
    assert keyring.fetches == 2  # tried to refresh, B is down


async def test_concurrent_lookups_share_a_fetch_and_failures_back_off(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a = await start_peer(tmp_path / "a", database=databases["a"])
    b = await start_peer(tmp_path / "b", database=databases["b"])
    peers += [a, b]
    keyring = b.hs.federation.keyring
    found = await asyncio.gather(*(keyring.get_key(a.name, a.key.key_id) for _ in range(10)))
    assert all(k is not None for k in found) and keyring.fetches == 1
    assert await keyring.get_key(a.name, "ed25519:nope") is None
    assert keyring.fetches == 2
    assert await keyring.get_key(a.name, "ed25519:nope") is None
    assert keyring.fetches == 2  # backing off (200 ms in these tests)
    await asyncio.sleep(0.25)
    assert await keyring.get_key(a.name, "ed25519:nope") is None
    assert keyring.fetches == 3


async def test_notary(tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]) -> None:
    a = await start_peer(tmp_path / "a", database=databases["a"])
    notary = await start_peer(tmp_path / "n", database=databases["n"])
    peers += [a, notary]
    trusted = KeyPerspective(
        notary.name, (PerspectiveKey(notary.key.key_id, notary.key.verify_key_base64),)
    )
    c = await start_peer(tmp_path / "c", database=databases["c"], perspectives=(trusted,))
    peers.append(c)

    # The notary answers GET and POST, co-signing A's self-signed response.
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{notary.base}/_matrix/key/v2/query/{a.name}", ssl=False) as resp:
            answer = await resp.json()
        entry = answer["server_keys"][0]
        verify_json_signature(entry, notary.name, notary.key.key_id, notary.key.verify_key)
        verify_json_signature(entry, a.name, a.key.key_id, a.key.verify_key)
        future = int(time.time() * 1000) + 2 * DAY_MS
        async with session.post(
            f"{notary.base}/_matrix/key/v2/query",
            json={
                "server_keys": {
                    a.name: {a.key.key_id: {"minimum_valid_until_ts": future}},
                    notary.name: {},
                }
            },
            ssl=False,
        ) as resp:
            both = await resp.json()
        assert sorted(e["server_name"] for e in both["server_keys"]) == sorted(
            [a.name, notary.name]
        )
        async with session.post(
            f"{notary.base}/_matrix/key/v2/query",
            json={"server_keys": {"bad name!": {}}},
            ssl=False,
        ) as resp:
            assert resp.status == 400

    # A goes offline: C still gets A's key, through the notary's cache.
    await a.stop()
    peers.remove(a)
    got = await c.hs.federation.keyring.get_key(a.name, a.key.key_id)
    assert got is not None and got.verify_key == a.key.verify_key_bytes
    assert got.from_server == notary.name

    # A notary signing with a key we do not trust is not believed.
    d = await start_peer(
        tmp_path / "d",
        database=databases["d"],
        perspectives=(
            KeyPerspective(
                notary.name,
                (PerspectiveKey(notary.key.key_id, generate_signing_key("z").verify_key_base64),),
            ),
        ),
    )
    peers.append(d)
    assert await d.hs.federation.keyring.get_key(a.name, a.key.key_id) is None


async def test_prefer_direct_fetch(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a = await start_peer(tmp_path / "a", database=databases["a"])
    notary = await start_peer(tmp_path / "n", database=databases["n"])
    peers += [a, notary]
    trusted = KeyPerspective(
        notary.name, (PerspectiveKey(notary.key.key_id, notary.key.verify_key_base64),)
    )
    direct = await start_peer(
        tmp_path / "c", database=databases["c"], perspectives=(trusted,), prefer_direct_fetch=True
    )
    via = await start_peer(tmp_path / "d", database=databases["d"], perspectives=(trusted,))
    peers += [direct, via]
    k1 = await direct.hs.federation.keyring.get_key(a.name, a.key.key_id)
    k2 = await via.hs.federation.keyring.get_key(a.name, a.key.key_id)
    assert k1 is not None and k1.from_server == a.name
    assert k2 is not None and k2.from_server == notary.name

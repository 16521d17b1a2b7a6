"""3PID bind/unbind through a real identity server (HTTPS, Ed25519), over HTTP.

client-server-api "Adding Account Administrative Contact Information":
``/account/3pid/bind`` proxies to the identity server's ``/3pid/bind`` and remembers
where; ``/account/3pid/unbind`` and ``/account/3pid/delete`` unbind with a request the
homeserver signs (checked by the test identity server with the key the homeserver
serves); account deactivation unbinds everything (account_deactivation.yaml).
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ranvier.config.schema import FederationApiConfig, IdentityServerConfig
from ranvier.core.signing import generate_signing_key
from ranvier.server import Homeserver
from tests.api.conftest import Client, make_config
from tests.api.identity_server import ACCESS_TOKEN, TestIdentityServer

V3 = "/_matrix/client/v3"
UNSTABLE = "/_matrix/client/unstable"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    """A server that may reach the loopback identity server (test-only settings)."""
    directory = tmp_path / "hs"
    directory.mkdir()
    config = make_config(directory)
    config = dataclasses.replace(
        config,
        client_api=dataclasses.replace(
            config.client_api,
            identity_servers=IdentityServerConfig(disable_tls_validation=True),
        ),
        federation_api=FederationApiConfig(allow_loopback=True),
    )
    server = await Homeserver.open(config)
    bound = await server.start(("127.0.0.1", 0))
    async with aiohttp.ClientSession() as session:
        yield Client(session, f"http://127.0.0.1:{bound[0][1]}", server)
    await server.stop(1.0)


@pytest.fixture
async def identity(tmp_path: Path, client: Client) -> AsyncIterator[TestIdentityServer]:
    server = TestIdentityServer(homeserver_base=client.base)
    await server.start(tmp_path)
    yield server
    await server.stop()


async def _user(client: Client, name: str) -> tuple[str, str]:
    body = await client.register(name)
    return body["user_id"], body["access_token"]


async def _bind(
    client: Client, identity: TestIdentityServer, token: str, address: str, prefix: str = V3
) -> tuple[int, Any]:
    sid = identity.validate(address, "secret")
    body = {
        "id_server": identity.name,
        "id_access_token": ACCESS_TOKEN,
        "sid": sid,
        "client_secret": "secret",
    }
    return await client.request("POST", f"{prefix}/account/3pid/bind", body, token=token)


async def _post(client: Client, path: str, body: dict[str, Any], token: str) -> tuple[int, Any]:
    return await client.request("POST", V3 + path, body, token=token)


def _recorded(client: Client, user_id: str) -> Any:
    return client.server.identity_bindings.store.all_for(user_id)


async def test_bind_publishes_and_is_remembered(
    client: Client, identity: TestIdentityServer
) -> None:
    user_id, token = await _user(client, "ann")
    assert await _bind(client, identity, token, "ann@example.org") == (200, {})
    assert identity.bindings["ann@example.org"] == user_id
    assert await _recorded(client, user_id) == [("email", "ann@example.org", identity.name)]
    # The unstable path (older clients, Sytest) does the same.
    assert await _bind(client, identity, token, "ann2@example.org", UNSTABLE) == (200, {})
    assert identity.bindings["ann2@example.org"] == user_id
    # Binding is not adding: the account's own 3PIDs are unchanged.
    status, listed = await client.request("GET", f"{V3}/account/3pid", token=token)
    assert (status, listed) == (200, {"threepids": []})
    # Another user may bind an address someone else has bound (the IS decides).
    other_id, other = await _user(client, "ben")
    assert await _bind(client, identity, other, "ann@example.org") == (200, {})
    assert identity.bindings["ann@example.org"] == other_id


async def test_bind_errors(client: Client, identity: TestIdentityServer) -> None:
    _, token = await _user(client, "cid")
    good = {
        "id_server": identity.name,
        "id_access_token": ACCESS_TOKEN,
        "sid": identity.validate("cid@example.org", "secret"),
        "client_secret": "secret",
    }
    # The identity server's Matrix errors are passed on.
    status, body = await _post(client, "/account/3pid/bind", {**good, "sid": "nope"}, token)
    assert (status, body["errcode"]) == (404, "M_NO_VALID_SESSION")
    # ... except that its 401 does not look like one about our access token.
    bad_token = {**good, "id_access_token": "wrong"}
    status, body = await _post(client, "/account/3pid/bind", bad_token, token)
    assert (status, body["errcode"]) == (403, "M_UNAUTHORIZED")
    status, body = await _post(client, "/account/3pid/bind", {**good, "id_server": "a/b"}, token)
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    missing = {k: v for k, v in good.items() if k != "id_access_token"}
    status, body = await _post(client, "/account/3pid/bind", missing, token)
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    # An identity server that cannot be reached: 502.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{s.getsockname()[1]}"
    status, body = await _post(client, "/account/3pid/bind", {**good, "id_server": closed}, token)
    assert (status, body["errcode"]) == (502, "M_UNKNOWN")
    status, body = await client.request("POST", f"{V3}/account/3pid/bind", good)
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")
    assert identity.bindings == {}


async def test_delete_unbinds_where_it_was_bound(
    client: Client, identity: TestIdentityServer
) -> None:
    user_id, token = await _user(client, "dot")
    await _bind(client, identity, token, "dot@example.org")
    # The address is not on the account, but it was bound through us: unbound there.
    # Addresses are compared canonical.
    body = {"medium": "email", "address": "Dot@Example.org"}
    status, answer = await _post(client, "/account/3pid/delete", body, token)
    assert (status, answer) == (200, {"id_server_unbind_result": "success"})
    assert "dot@example.org" not in identity.bindings
    assert identity.unbinds == [
        {"mxid": user_id, "threepid": {"medium": "email", "address": "dot@example.org"}}
    ]
    assert await _recorded(client, user_id) == []
    # Now nothing is known about it any more.
    status, answer = await _post(client, "/account/3pid/delete", body, token)
    assert (status, answer["errcode"]) == (400, "M_THREEPID_NOT_FOUND")


async def test_delete_out_of_band_binding_with_id_server(
    client: Client, identity: TestIdentityServer
) -> None:
    user_id, token = await _user(client, "eve")
    identity.bindings["eve@example.org"] = user_id
    body = {"medium": "email", "address": "eve@example.org", "id_server": identity.name}
    status, answer = await _post(client, "/account/3pid/delete", body, token)
    assert (status, answer) == (200, {"id_server_unbind_result": "success"})
    assert identity.bindings == {}
    # Not bound there (any more): the identity server's bare 404 is "no-support".
    status, answer = await _post(client, "/account/3pid/delete", body, token)
    assert (status, answer) == (200, {"id_server_unbind_result": "no-support"})


async def test_delete_local_address_also_unbinds(
    client: Client, identity: TestIdentityServer
) -> None:
    user_id, token = await _user(client, "fay")
    await client.server.threepids.store.bind(user_id, "email", "fay@example.org", 1)
    await _bind(client, identity, token, "fay@example.org")
    body = {"medium": "email", "address": "fay@example.org"}
    status, answer = await _post(client, "/account/3pid/delete", body, token)
    assert (status, answer) == (200, {"id_server_unbind_result": "success"})
    assert identity.bindings == {}
    status, listed = await client.request("GET", f"{V3}/account/3pid", token=token)
    assert listed == {"threepids": []}
    # An address only on the account: removed, no identity server to tell.
    await client.server.threepids.store.bind(user_id, "email", "fay2@example.org", 1)
    body = {"medium": "email", "address": "fay2@example.org"}
    status, answer = await _post(client, "/account/3pid/delete", body, token)
    assert (status, answer) == (200, {"id_server_unbind_result": "no-support"})


async def test_unbind(client: Client, identity: TestIdentityServer) -> None:
    user_id, token = await _user(client, "gil")
    # Without id_server: the recorded one; with it: that one.
    await _bind(client, identity, token, "gil@example.org")
    body = {"medium": "email", "address": "gil@example.org"}
    status, answer = await client.request(
        "POST", f"{UNSTABLE}/account/3pid/unbind", body, token=token
    )
    assert (status, answer) == (200, {"id_server_unbind_result": "success"})
    assert identity.bindings == {}
    await _bind(client, identity, token, "gil@example.org")
    status, answer = await _post(
        client, "/account/3pid/unbind", {**body, "id_server": identity.name}, token
    )
    assert (status, answer) == (200, {"id_server_unbind_result": "success"})
    assert identity.bindings == {} and await _recorded(client, user_id) == []
    # Nothing known and no id_server: the spec's "no-support".
    status, answer = await _post(client, "/account/3pid/unbind", body, token)
    assert (status, answer) == (200, {"id_server_unbind_result": "no-support"})
    # A Matrix error of the identity server is passed on and the record kept ...
    await _bind(client, identity, token, "gil@example.org")
    identity.unbind_answer = (403, {"errcode": "M_TERMS_NOT_SIGNED", "error": "terms"})
    status, answer = await _post(client, "/account/3pid/unbind", body, token)
    assert (status, answer["errcode"]) == (403, "M_TERMS_NOT_SIGNED")
    assert len(await _recorded(client, user_id)) == 1
    # ... a 5xx is 502 ...
    identity.unbind_answer = (500, {"errcode": "M_UNKNOWN", "error": "down"})
    status, answer = await _post(client, "/account/3pid/unbind", body, token)
    assert (status, answer["errcode"]) == (502, "M_UNKNOWN")
    # ... and a 501 without a Matrix error says unbinding is unsupported.
    identity.unbind_answer = (501, None)
    status, answer = await _post(client, "/account/3pid/unbind", body, token)
    assert (status, answer) == (200, {"id_server_unbind_result": "no-support"})
    assert await _recorded(client, user_id) == []
    status, answer = await _post(
        client, "/account/3pid/unbind", {"medium": "fax", "address": "1"}, token
    )
    assert (status, answer["errcode"]) == (400, "M_INVALID_PARAM")


async def test_unbind_signature_is_checked(client: Client, identity: TestIdentityServer) -> None:
    """The identity server refuses an unbind signed with a key the homeserver does not
    serve: the refusal reaches the client."""
    user_id, token = await _user(client, "hal")
    await _bind(client, identity, token, "hal@example.org")
    real = client.server.identity_bindings.signing_key
    client.server.identity_bindings.signing_key = generate_signing_key(real.version)
    body = {"medium": "email", "address": "hal@example.org"}
    status, answer = await _post(client, "/account/3pid/unbind", body, token)
    assert (status, answer["errcode"]) == (403, "M_FORBIDDEN")
    assert identity.bindings["hal@example.org"] == user_id
    client.server.identity_bindings.signing_key = real
    status, answer = await _post(client, "/account/3pid/unbind", body, token)
    assert (status, answer) == (200, {"id_server_unbind_result": "success"})


async def _deactivate(client: Client, name: str, token: str, **extra: Any) -> tuple[int, Any]:
    status, first = await _post(client, "/account/deactivate", extra, token)
    assert status == 401, first
    auth = {"type": "m.login.password", "user": name, "password": "pw", "session": first["session"]}
    return await _post(client, "/account/deactivate", {"auth": auth}, token)


async def test_deactivation_unbinds_everything(
    client: Client, identity: TestIdentityServer
) -> None:
    user_id, token = await _user(client, "ida")
    await _bind(client, identity, token, "ida@example.org")
    await _bind(client, identity, token, "ida2@example.org")
    assert await _deactivate(client, "ida", token) == (200, {"id_server_unbind_result": "success"})
    assert identity.bindings == {} and await _recorded(client, user_id) == []
    # Nothing to unbind is success too (account_deactivation.yaml).
    _, token = await _user(client, "jon")
    assert await _deactivate(client, "jon", token) == (200, {"id_server_unbind_result": "success"})


async def test_deactivation_with_id_server_unbinds_account_addresses(
    client: Client, identity: TestIdentityServer
) -> None:
    user_id, token = await _user(client, "kai")
    await client.server.threepids.store.bind(user_id, "email", "kai@example.org", 1)
    identity.bindings["kai@example.org"] = user_id  # bound out of band
    # id_server given on the first request only: remembered across the UIA round trip.
    answer = await _deactivate(client, "kai", token, id_server=identity.name)
    assert answer == (200, {"id_server_unbind_result": "success"})
    assert identity.bindings == {}


async def test_deactivation_goes_on_when_unbinding_fails(
    client: Client, identity: TestIdentityServer
) -> None:
    user_id, token = await _user(client, "lee")
    await _bind(client, identity, token, "lee@example.org")
    identity.unbind_answer = (500, {"errcode": "M_UNKNOWN", "error": "down"})
    answer = await _deactivate(client, "lee", token)
    assert answer == (200, {"id_server_unbind_result": "no-support"})
    status, _ = await client.request("GET", f"{V3}/account/whoami", token=token)
    assert status == 401
    assert await _recorded(client, user_id) == []
    # A bad id_server is refused before the user is asked for a password.
    _, token = await _user(client, "max")
    status, body = await _post(client, "/account/deactivate", {"id_server": "x y"}, token)
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")

"""Third-party invites over HTTP with a real identity server (HTTPS, Ed25519).

client-server-api "Third-party invites": ``POST /invite`` with a third-party identifier
invites the bound user, or stores the invite at the identity server and sends
``m.room.third_party_invite``; ``invite_3pid`` of ``/createRoom``; the identity
server's ``/3pid/onbind`` turns a stored invite into an ``m.room.member`` invite when
the key is still valid; ``/join`` with ``third_party_signed``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ranvier.config.schema import FederationApiConfig, IdentityServerConfig
from ranvier.core.signing import generate_signing_key, sign_json
from ranvier.server import Homeserver
from tests.api.conftest import Client, make_config
from tests.api.identity_server import ACCESS_TOKEN, TestIdentityServer

V3 = "/_matrix/client/v3"
EMAIL = "alice@example.org"


@pytest.fixture
async def identity(tmp_path: Path) -> AsyncIterator[TestIdentityServer]:
    server = TestIdentityServer()
    await server.start(tmp_path)
    yield server
    await server.stop()


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    """A server that may reach the loopback identity server, without checking its
    self-signed certificate (the test-only settings)."""
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


async def _user(client: Client, name: str) -> tuple[str, str]:
    body = await client.register(name)
    return body["user_id"], body["access_token"]


async def _room(client: Client, token: str, **body: Any) -> str:
    status, answer = await client.request("POST", f"{V3}/createRoom", body, token=token)
    assert status == 200, answer
    return str(answer["room_id"])


def _invite_body(identity: TestIdentityServer, address: str = EMAIL) -> dict[str, str]:
    return {
        "id_server": identity.name,
        "id_access_token": ACCESS_TOKEN,
        "medium": "email",
        "address": address,
    }


async def _member(client: Client, token: str, room_id: str, user_id: str) -> tuple[int, Any]:
    return await client.request(
        "GET", f"{V3}/rooms/{room_id}/state/m.room.member/{user_id}", token=token
    )


async def _third_party_invites(client: Client, token: str, room_id: str) -> list[Any]:
    status, state = await client.request("GET", f"{V3}/rooms/{room_id}/state", token=token)
    assert status == 200
    return [e for e in state if e["type"] == "m.room.third_party_invite"]


async def test_invite_of_a_bound_address_invites_the_user(
    client: Client, identity: TestIdentityServer
) -> None:
    _, alice_tok = await _user(client, "alice")
    bob, _ = await _user(client, "bob")
    identity.bindings[EMAIL] = bob
    room_id = await _room(client, alice_tok)
    status, body = await client.request(
        "POST", f"{V3}/rooms/{room_id}/invite", _invite_body(identity), token=alice_tok
    )
    assert status == 200, body
    status, member = await _member(client, alice_tok, room_id, bob)
    assert status == 200 and member["membership"] == "invite"
    assert await _third_party_invites(client, alice_tok, room_id) == []
    assert "/_matrix/identity/v2/store-invite" not in identity.requests


async def test_unbound_address_stores_invite_and_onbind_exchanges_it(
    client: Client, identity: TestIdentityServer
) -> None:
    alice, alice_tok = await _user(client, "alice")
    bob, bob_tok = await _user(client, "bob")
    room_id = await _room(client, alice_tok, name="Lemurs")
    status, body = await client.request(
        "POST", f"{V3}/rooms/{room_id}/invite", _invite_body(identity), token=alice_tok
    )
    assert status == 200, body
    # The invite was stored at the identity server with the room's details...
    [stored] = identity.invites
    assert stored["room_id"] == room_id and stored["sender"] == alice
    assert stored["room_name"] == "Lemurs" and stored["address"] == EMAIL
    # ...and the room got the m.room.third_party_invite with the server's keys.
    [tpi] = await _third_party_invites(client, alice_tok, room_id)
    assert tpi["state_key"] == stored["token"] and tpi["sender"] == alice
    assert tpi["content"]["display_name"] == "a...@e..."
    assert tpi["content"]["key_validity_url"] == identity.isvalid_url
    assert tpi["content"]["public_keys"][0]["public_key"] == identity.key.verify_key_base64
    status, _ = await _member(client, alice_tok, room_id, bob)
    assert status == 404
    # Bob binds the address: the identity server calls onbind; bob is invited.
    assert await identity.bind(EMAIL, bob, client.base) == 200
    status, member = await _member(client, alice_tok, room_id, bob)
    assert status == 200 and member["membership"] == "invite"
    assert member["third_party_invite"]["display_name"] == "a...@e..."
    assert member["third_party_invite"]["signed"]["token"] == stored["token"]
    status, body = await client.request("POST", f"{V3}/join/{room_id}", {}, token=bob_tok)
    assert status == 200, body
    status, member = await _member(client, alice_tok, room_id, bob)
    assert member["membership"] == "join"


async def test_onbind_with_a_revoked_key_or_wrong_key_invites_nobody(
    client: Client, identity: TestIdentityServer
) -> None:
    _, alice_tok = await _user(client, "alice")
    bob, bob_tok = await _user(client, "bob")
    carol, _ = await _user(client, "carol")
    room_id = await _room(client, alice_tok)
    for address in (EMAIL, "carol@example.org"):
        status, _ = await client.request(
            "POST",
            f"{V3}/rooms/{room_id}/invite",
            _invite_body(identity, address),
            token=alice_tok,
        )
        assert status == 200
    # Signed by a key the m.room.third_party_invite does not list.
    assert await identity.bind(EMAIL, bob, client.base, key=generate_signing_key("0")) == 403
    status, _ = await _member(client, alice_tok, room_id, bob)
    assert status == 404
    status, _ = await client.request("POST", f"{V3}/join/{room_id}", {}, token=bob_tok)
    assert status == 403
    # The right key, but the identity server says it is revoked by now.
    identity.revoked.add(identity.key.verify_key_base64)
    assert await identity.bind("carol@example.org", carol, client.base) == 403
    status, _ = await _member(client, alice_tok, room_id, carol)
    assert status == 404


async def test_create_room_with_invite_3pid(client: Client, identity: TestIdentityServer) -> None:
    _, alice_tok = await _user(client, "alice")
    bob, _ = await _user(client, "bob")
    identity.bindings[EMAIL] = bob
    room_id = await _room(
        client, alice_tok, invite_3pid=[_invite_body(identity), _invite_body(identity, "x@y.z")]
    )
    status, member = await _member(client, alice_tok, room_id, bob)
    assert status == 200 and member["membership"] == "invite"
    [tpi] = await _third_party_invites(client, alice_tok, room_id)
    assert identity.invites[0]["address"] == "x@y.z"
    assert tpi["state_key"] == identity.invites[0]["token"]
    status, body = await client.request(
        "POST", f"{V3}/createRoom", {"invite_3pid": [{"medium": "email"}]}, token=alice_tok
    )
    assert status == 400 and body["errcode"] == "M_BAD_JSON"


async def test_join_with_third_party_signed(client: Client, identity: TestIdentityServer) -> None:
    alice, alice_tok = await _user(client, "alice")
    bob, bob_tok = await _user(client, "bob")
    room_id = await _room(client, alice_tok)
    status, _ = await client.request(
        "POST", f"{V3}/rooms/{room_id}/invite", _invite_body(identity), token=alice_tok
    )
    assert status == 200
    [tpi] = await _third_party_invites(client, alice_tok, room_id)
    signed = sign_json(
        {"mxid": bob, "sender": alice, "token": tpi["state_key"]}, identity.name, identity.key
    )
    forged = sign_json(
        {"mxid": bob, "sender": alice, "token": tpi["state_key"]},
        identity.name,
        generate_signing_key("0"),
    )
    status, body = await client.request(
        "POST", f"{V3}/rooms/{room_id}/join", {"third_party_signed": forged}, token=bob_tok
    )
    assert status == 403, body
    status, body = await client.request(
        "POST", f"{V3}/rooms/{room_id}/join", {"third_party_signed": signed}, token=bob_tok
    )
    assert status == 200, body
    status, member = await _member(client, alice_tok, room_id, bob)
    assert member["membership"] == "join"


async def test_third_party_invite_needs_membership_and_power(
    client: Client, identity: TestIdentityServer
) -> None:
    _, alice_tok = await _user(client, "alice")
    _, bob_tok = await _user(client, "bob")
    room_id = await _room(client, alice_tok, preset="public_chat")
    status, _ = await client.request(
        "POST", f"{V3}/rooms/{room_id}/invite", _invite_body(identity), token=bob_tok
    )
    assert status == 403
    status, _ = await client.request("POST", f"{V3}/join/{room_id}", {}, token=bob_tok)
    assert status == 200
    # public_chat: invite needs power 50 (presets), bob has 0.
    status, body = await client.request(
        "POST", f"{V3}/rooms/{room_id}/invite", _invite_body(identity), token=bob_tok
    )
    assert status == 403, body
    assert identity.requests == []


async def test_unreachable_identity_server(client: Client, identity: TestIdentityServer) -> None:
    _, alice_tok = await _user(client, "alice")
    room_id = await _room(client, alice_tok)
    name = identity.name
    await identity.stop()
    status, body = await client.request(
        "POST",
        f"{V3}/rooms/{room_id}/invite",
        {**_invite_body(identity), "id_server": name},
        token=alice_tok,
    )
    assert status == 502, body
    assert await _third_party_invites(client, alice_tok, room_id) == []

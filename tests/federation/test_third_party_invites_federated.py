"""Third-party invites across two real ranvier servers and a real identity server (all
HTTPS on loopback): the invitee's server gets ``/3pid/onbind`` and, the inviter being on
the other server, asks it through ``/exchange_third_party_invite``; the resident server
verifies the invite (signature, ``key_validity_url``), fills in the display name, and the
invite reaches the invitee's server, whose user joins over federation
(server-server-api "Third-party invites")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ranvier.federation.client import path_segment
from tests.api.identity_server import ACCESS_TOKEN, TestIdentityServer
from tests.federation.helpers import call, eventually, login, membership_is, start_two
from tests.federation.peers import Peer

EMAIL = "bob@example.org"


@pytest.fixture
async def identity(tmp_path: Path) -> AsyncIterator[TestIdentityServer]:
    server = TestIdentityServer()
    await server.start(tmp_path)
    yield server
    await server.stop()


async def test_unbound_invite_exchanged_over_federation(
    tmp_path: Path,
    peers: list[Peer],
    databases: dict[str, str | None],
    identity: TestIdentityServer,
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    for peer in (a, b):
        # What client_api.identity_servers.disable_tls_validation sets: the test
        # identity server's certificate is self-signed.
        peer.hs.identity.verify_tls = False
    alice_token = await login(a, "alice")
    bob_token = await login(b, "bob")
    bob = f"@bob:{b.name}"
    status, created = await call(
        a, "POST", "/_matrix/client/v3/createRoom", alice_token, {"preset": "private_chat"}
    )
    assert status == 200
    room_id = created["room_id"]
    room = path_segment(room_id)
    status, body = await call(
        a,
        "POST",
        f"/_matrix/client/v3/rooms/{room}/invite",
        alice_token,
        {
            "id_server": identity.name,
            "id_access_token": ACCESS_TOKEN,
            "medium": "email",
            "address": EMAIL,
        },
    )
    assert status == 200, body
    # Bob binds the address; the identity server tells bob's server, which is not in
    # the room and asks alice's.
    assert await identity.bind(EMAIL, bob, b.base) == 200
    await eventually(lambda: membership_is(a, room_id, bob, "invite"))
    status, member = await call(
        a, "GET", f"/_matrix/client/v3/rooms/{room}/state/m.room.member/{bob}", alice_token
    )
    assert member["third_party_invite"]["display_name"] == "a...@e..."
    status, body = await call(b, "POST", f"/_matrix/client/v3/join/{room}", bob_token, {})
    assert status == 200, body
    await eventually(lambda: membership_is(a, room_id, bob, "join"))


async def test_revoked_key_refused_by_the_resident_server(
    tmp_path: Path,
    peers: list[Peer],
    databases: dict[str, str | None],
    identity: TestIdentityServer,
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    for peer in (a, b):
        peer.hs.identity.verify_tls = False
    alice_token = await login(a, "alice")
    bob = f"@bob:{b.name}"
    status, created = await call(a, "POST", "/_matrix/client/v3/createRoom", alice_token, {})
    room_id = created["room_id"]
    status, _ = await call(
        a,
        "POST",
        f"/_matrix/client/v3/rooms/{path_segment(room_id)}/invite",
        alice_token,
        {
            "id_server": identity.name,
            "id_access_token": ACCESS_TOKEN,
            "medium": "email",
            "address": EMAIL,
        },
    )
    assert status == 200
    identity.revoked.add(identity.key.verify_key_base64)
    # The resident server's refusal comes back through the invitee's server.
    assert await identity.bind(EMAIL, bob, b.base) == 403
    assert not await membership_is(a, room_id, bob, "invite")

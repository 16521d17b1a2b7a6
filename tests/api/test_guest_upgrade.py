"""Upgrading a guest to a full account over HTTP (client-server-api "Guest Access":
``/register`` with ``guest_access_token`` and the guest's ``username``)."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Client
from tests.api.sync_helpers import V3, create_room, register


async def _guest(client: Client) -> tuple[str, str]:
    status, body = await client.request("POST", f"{V3}/register?kind=guest", {})
    assert status == 200, body
    return body["user_id"], body["access_token"]


async def _upgrade(client: Client, **body: Any) -> tuple[int, Any]:
    body = {"password": "new-password", **body}
    status, first = await client.request("POST", f"{V3}/register", body)
    if status != 401:
        return status, first
    body["auth"] = {"type": "m.login.dummy", "session": first["session"]}
    return await client.request("POST", f"{V3}/register", body)


async def test_guest_upgrades_keeping_its_user_id(client: Client) -> None:
    _, a = await register(client, "alice")
    room = await create_room(client, a, preset="private_chat")
    status, _ = await client.request(
        "PUT",
        f"{V3}/rooms/{room}/state/m.room.guest_access",
        {"guest_access": "forbidden"},
        token=a,
    )
    assert status == 200
    status, _ = await client.request(
        "PUT", f"{V3}/rooms/{room}/state/m.room.join_rules", {"join_rule": "public"}, token=a
    )
    assert status == 200
    guest, guest_token = await _guest(client)
    status, _ = await client.request("POST", f"{V3}/join/{room}", {}, token=guest_token)
    assert status == 403  # guests may not join this room
    localpart = guest[1:].split(":")[0]
    status, body = await _upgrade(client, username=localpart, guest_access_token=guest_token)
    assert status == 200, body
    assert body["user_id"] == guest
    token = body["access_token"]
    status, whoami = await client.request("GET", f"{V3}/account/whoami", token=token)
    assert status == 200 and whoami["user_id"] == guest and whoami.get("is_guest") is False
    status, _ = await client.request("POST", f"{V3}/join/{room}", {}, token=token)
    assert status == 200
    # The guest's own session ended; the password logs the account in.
    status, _ = await client.request("GET", f"{V3}/account/whoami", token=guest_token)
    assert status == 401
    status, login = await client.request(
        "POST",
        f"{V3}/login",
        {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": localpart},
            "password": "new-password",
        },
    )
    assert status == 200 and login["user_id"] == guest
    # Upgrading twice is refused: the account is no guest any more.
    status, body = await _upgrade(client, username=localpart, guest_access_token=token)
    assert status == 403 and body["errcode"] == "M_FORBIDDEN"


async def test_guest_token_cannot_upgrade_another_user(client: Client) -> None:
    guest1, _ = await _guest(client)
    _, token2 = await _guest(client)
    status, body = await _upgrade(
        client, username=guest1[1:].split(":")[0], guest_access_token=token2
    )
    assert status == 403 and body["errcode"] == "M_FORBIDDEN"
    status, body = await _upgrade(client, username="someone", guest_access_token="nonsense")
    assert status == 403
    # Without a guest token, numeric names stay reserved for guests.
    status, body = await _upgrade(client, username=guest1[1:].split(":")[0])
    assert status == 400 and body["errcode"] == "M_INVALID_USERNAME"

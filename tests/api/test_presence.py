"""``GET``/``PUT /presence/{userId}/status`` over real HTTP, with the federation flags
off (the default): local presence still works."""

from __future__ import annotations

from urllib.parse import quote

from tests.api.conftest import Client
from tests.api.test_typing import room_with_two

V3 = "/_matrix/client/v3"


async def test_presence_get_put(client: Client) -> None:
    assert not client.server.config.global_.presence.enable_inbound
    assert not client.server.config.global_.presence.enable_outbound
    _room_id, alice, bob = await room_with_two(client)
    carol = await client.register("carol")
    a_path = f"{V3}/presence/{quote(alice['user_id'])}/status"
    a, b, c = alice["access_token"], bob["access_token"], carol["access_token"]
    c_path = f"{V3}/presence/{quote(carol['user_id'])}/status"
    assert await client.request("GET", c_path, token=c) == (200, {"presence": "offline"})
    # Alice created the room: sending events is activity.
    status, got = await client.request("GET", a_path, token=a)
    assert got["presence"] == "online" and got["currently_active"] is True
    body = {"presence": "online", "status_msg": "here"}
    assert await client.request("PUT", a_path, body, token=a) == (200, {})
    status, got = await client.request("GET", a_path, token=b)  # shares a room
    assert status == 200
    assert got["presence"] == "online" and got["status_msg"] == "here"
    assert got["currently_active"] is True and 0 <= got["last_active_ago"] < 60_000
    status, got = await client.request("GET", a_path, token=c)  # shares none
    assert (status, got["errcode"]) == (403, "M_FORBIDDEN")
    status, got = await client.request("PUT", a_path, {"presence": "online"}, token=b)
    assert (status, got["errcode"]) == (403, "M_FORBIDDEN")
    for bad, code in (
        ({}, "M_MISSING_PARAM"),
        ({"presence": "away"}, "M_INVALID_PARAM"),
        ({"presence": "online", "status_msg": 1}, "M_INVALID_PARAM"),
    ):
        status, got = await client.request("PUT", a_path, bad, token=a)
        assert (status, got["errcode"]) == (400, code)
    assert (await client.request("PUT", a_path, {"presence": "unavailable"}, token=a))[0] == 200
    status, got = await client.request("GET", a_path, token=a)
    assert got["presence"] == "unavailable" and "status_msg" not in got
    status, got = await client.request("GET", f"{V3}/presence/nobody/status", token=a)
    assert (status, got["errcode"]) == (400, "M_INVALID_PARAM")


async def test_room_actions_count_as_activity(client: Client) -> None:
    room_id, alice, _bob = await room_with_two(client)
    a = alice["access_token"]
    a_path = f"{V3}/presence/{quote(alice['user_id'])}/status"
    assert (await client.request("PUT", a_path, {"presence": "offline"}, token=a))[0] == 200
    assert (await client.request("GET", a_path, token=a))[1]["presence"] == "offline"
    # Typing sends no room event: only the request itself counts.
    typing = f"{V3}/rooms/{room_id}/typing/{quote(alice['user_id'])}"
    assert (await client.request("PUT", typing, {"typing": True}, token=a))[0] == 200
    status, got = await client.request("GET", a_path, token=a)
    assert got["presence"] == "online" and got["currently_active"] is True
    # A failed request is not activity.
    assert (await client.request("PUT", a_path, {"presence": "offline"}, token=a))[0] == 200
    status, _ = await client.request("PUT", typing, {"typing": "x"}, token=a)
    assert status == 400
    assert (await client.request("GET", a_path, token=a))[1]["presence"] == "offline"

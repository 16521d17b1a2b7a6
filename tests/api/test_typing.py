"""``PUT /rooms/{roomId}/typing/{userId}`` over real HTTP: who may type, validation, and
the typing state with its timeout."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from tests.api.conftest import Client

V3 = "/_matrix/client/v3"


async def room_with_two(client: Client) -> tuple[str, dict, dict]:  # type: ignore[type-arg]
    alice = await client.register("alice")
    bob = await client.register("bob")
    status, created = await client.request(
        "POST", f"{V3}/createRoom", {"preset": "public_chat"}, token=alice["access_token"]
    )
    assert status == 200, created
    room_id = created["room_id"]
    status, _ = await client.request("POST", f"{V3}/join/{room_id}", {}, token=bob["access_token"])
    assert status == 200
    return room_id, alice, bob


async def test_typing_set_stop_and_expiry(client: Client) -> None:
    room_id, alice, _bob = await room_with_two(client)
    path = f"{V3}/rooms/{room_id}/typing/{quote(alice['user_id'])}"
    typing = client.server.typing
    status, body = await client.request(
        "PUT", path, {"typing": True, "timeout": 30000}, token=alice["access_token"]
    )
    assert (status, body) == (200, {})
    assert typing.typing_users(room_id) == [alice["user_id"]]
    status, _ = await client.request("PUT", path, {"typing": False}, token=alice["access_token"])
    assert status == 200
    assert typing.typing_users(room_id) == []
    status, _ = await client.request(
        "PUT", path, {"typing": True, "timeout": 100}, token=alice["access_token"]
    )
    assert typing.typing_users(room_id) == [alice["user_id"]]
    await asyncio.sleep(0.3)
    assert typing.typing_users(room_id) == []


async def test_typing_refusals(client: Client) -> None:
    room_id, alice, bob = await room_with_two(client)
    carol = await client.register("carol")
    a_path = f"{V3}/rooms/{room_id}/typing/{quote(alice['user_id'])}"
    # Someone else's typing state.
    status, body = await client.request("PUT", a_path, {"typing": True}, token=bob["access_token"])
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    # Not joined, or an unknown room.
    c_path = f"{V3}/rooms/{room_id}/typing/{quote(carol['user_id'])}"
    status, body = await client.request(
        "PUT", c_path, {"typing": True}, token=carol["access_token"]
    )
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    unknown = f"{V3}/rooms/!nope:test.local/typing/{quote(carol['user_id'])}"
    status, body = await client.request(
        "PUT", unknown, {"typing": True}, token=carol["access_token"]
    )
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    # Malformed bodies.
    for bad, code in (({}, "M_MISSING_PARAM"), ({"typing": "yes"}, "M_INVALID_PARAM")):
        status, body = await client.request("PUT", a_path, bad, token=alice["access_token"])
        assert (status, body["errcode"]) == (400, code)
    status, body = await client.request(
        "PUT", a_path, {"typing": True, "timeout": "soon"}, token=alice["access_token"]
    )
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await client.request("PUT", a_path, {"typing": True})
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")
    assert client.server.typing.typing_users(room_id) == []

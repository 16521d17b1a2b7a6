"""``POST /rooms/{roomId}/read_markers`` over real HTTP, and that ``m.fully_read`` cannot
be set through the account data API."""

from __future__ import annotations

from tests.api.conftest import Client
from tests.api.test_receipts import send
from tests.api.test_typing import room_with_two

V3 = "/_matrix/client/v3"


async def test_read_markers(client: Client) -> None:
    room_id, alice, bob = await room_with_two(client)
    a, b = alice["access_token"], bob["access_token"]
    e1 = await send(client, room_id, a, "t1")
    e2 = await send(client, room_id, a, "t2")
    path = f"{V3}/rooms/{room_id}/read_markers"
    marker = f"{V3}/user/{bob['user_id']}/rooms/{room_id}/account_data/m.fully_read"
    body = {"m.fully_read": e2, "m.read": e1, "m.read.private": e2}
    assert await client.request("POST", path, body, token=b) == (200, {})
    assert await client.request("GET", marker, token=b) == (200, {"event_id": e2})
    store = client.server.receipts.store
    read = await store.get(room_id, "m.read", bob["user_id"])
    private = await store.get(room_id, "m.read.private", bob["user_id"])
    assert read is not None and read.event_id == e1
    assert private is not None and private.event_id == e2
    # The marker does not move back.
    assert (await client.request("POST", path, {"m.fully_read": e1}, token=b))[0] == 200
    assert await client.request("GET", marker, token=b) == (200, {"event_id": e2})
    # Clients cannot set it directly.
    status, got = await client.request("PUT", marker, {"event_id": e1}, token=b)
    assert (status, got["errcode"]) == (405, "M_BAD_JSON")
    # Errors.
    status, got = await client.request("POST", path, {"m.fully_read": 5}, token=b)
    assert (status, got["errcode"]) == (400, "M_INVALID_PARAM")
    status, got = await client.request("POST", path, {"m.fully_read": "$nope"}, token=b)
    assert (status, got["errcode"]) == (404, "M_NOT_FOUND")
    assert (await client.request("POST", path, {}, token=b))[0] == 200

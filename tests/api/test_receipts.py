"""``POST /rooms/{roomId}/receipt/{receiptType}/{eventId}`` over real HTTP."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Client
from tests.api.test_typing import room_with_two

V3 = "/_matrix/client/v3"


async def send(client: Client, room_id: str, token: str, txn: str, **extra: Any) -> str:
    status, body = await client.request(
        "PUT",
        f"{V3}/rooms/{room_id}/send/m.room.message/{txn}",
        {"msgtype": "m.text", "body": txn, **extra},
        token=token,
    )
    assert status == 200, body
    return str(body["event_id"])


async def test_receipts_are_stored(client: Client) -> None:
    room_id, alice, bob = await room_with_two(client)
    a, b = alice["access_token"], bob["access_token"]
    root = await send(client, room_id, a, "t1")
    reply = await send(
        client, room_id, a, "t2", **{"m.relates_to": {"rel_type": "m.thread", "event_id": root}}
    )
    base = f"{V3}/rooms/{room_id}/receipt"
    assert await client.request("POST", f"{base}/m.read/{root}", {}, token=b) == (200, {})
    status, _ = await client.request("POST", f"{base}/m.read.private/{root}", {}, token=b)
    assert status == 200
    status, _ = await client.request("POST", f"{base}/m.read/{reply}", {"thread_id": root}, token=b)
    assert status == 200
    store = client.server.receipts.store
    for rtype, thread, event_id in (
        ("m.read", None, root),
        ("m.read.private", None, root),
        ("m.read", root, reply),
    ):
        got = await store.get(room_id, rtype, bob["user_id"], thread)
        assert got is not None and got.event_id == event_id
    # m.fully_read through the receipt endpoint moves the read marker.
    status, _ = await client.request("POST", f"{base}/m.fully_read/{reply}", {}, token=b)
    assert status == 200
    status, body = await client.request(
        "GET",
        f"{V3}/user/{bob['user_id']}/rooms/{room_id}/account_data/m.fully_read",
        token=b,
    )
    assert (status, body) == (200, {"event_id": reply})
    # Sending a receipt is activity.
    status, body = await client.request("GET", f"{V3}/presence/{bob['user_id']}/status", token=b)
    assert body["presence"] == "online" and body["currently_active"] is True


async def test_receipt_errors(client: Client) -> None:
    room_id, alice, bob = await room_with_two(client)
    a, b = alice["access_token"], bob["access_token"]
    root = await send(client, room_id, a, "t1")
    reply = await send(
        client, room_id, a, "t2", **{"m.relates_to": {"rel_type": "m.thread", "event_id": root}}
    )
    base = f"{V3}/rooms/{room_id}/receipt"
    cases: list[tuple[str, Any, int, str]] = [
        (f"{base}/m.bogus/{root}", {}, 400, "M_INVALID_PARAM"),
        (f"{base}/m.read/{root}", {"thread_id": ""}, 400, "M_INVALID_PARAM"),
        (f"{base}/m.read/{root}", {"thread_id": 3}, 400, "M_INVALID_PARAM"),
        (f"{base}/m.fully_read/{root}", {"thread_id": "main"}, 400, "M_INVALID_PARAM"),
        (f"{base}/m.read/{reply}", {"thread_id": "main"}, 400, "M_INVALID_PARAM"),
        (f"{base}/m.read/$unknown", {}, 404, "M_NOT_FOUND"),
        (f"{base}/m.read/nodollar", {}, 400, "M_INVALID_PARAM"),
    ]
    for path, body, status_want, code in cases:
        status, got = await client.request("POST", path, body, token=b)
        assert (status, got["errcode"]) == (status_want, code), path
    assert await client.server.receipts.store.get(room_id, "m.read", bob["user_id"]) is None
    status, _ = await client.request("POST", f"{base}/m.read/{root}", raw=b"", token=b)
    assert status == 200  # an empty body is an empty object

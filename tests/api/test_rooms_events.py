"""Sending and reading events and state over real HTTP."""

from __future__ import annotations

from urllib.parse import quote

from tests.api.conftest import Client

V3 = "/_matrix/client/v3"


async def _room(client: Client, token: str, **body: object) -> str:
    status, created = await client.request("POST", f"{V3}/createRoom", body, token=token)
    assert status == 200, created
    return str(created["room_id"])


async def test_send_is_idempotent_and_event_is_served(client: Client) -> None:
    alice = await client.register("alice")
    token = alice["access_token"]
    room_id = await _room(client, token)
    url = f"{V3}/rooms/{room_id}/send/m.room.message/txn1"
    status, first = await client.request(
        "PUT", url, {"msgtype": "m.text", "body": "hi"}, token=token
    )
    assert status == 200, first
    status, again = await client.request(
        "PUT", url, {"msgtype": "m.text", "body": "changed"}, token=token
    )
    assert status == 200 and again == first
    event_id = first["event_id"]
    status, event = await client.request(
        "GET", f"{V3}/rooms/{room_id}/event/{quote(event_id)}", token=token
    )
    assert status == 200
    assert event["content"] == {"msgtype": "m.text", "body": "hi"}
    assert event["sender"] == alice["user_id"] and event["room_id"] == room_id
    assert event["unsigned"]["transaction_id"] == "txn1"
    assert "state_key" not in event and "prev_events" not in event
    status, body = await client.request(
        "GET", f"{V3}/rooms/{room_id}/event/{quote('$nope')}", token=token
    )
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


async def test_send_errors(client: Client) -> None:
    alice = (await client.register("alice"))["access_token"]
    bob = (await client.register("bob"))["access_token"]
    room_id = await _room(client, alice)
    url = f"{V3}/rooms/{room_id}/send/m.room.message/t"
    status, body = await client.request("PUT", url, {"body": "x"}, token=bob)
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = await client.request("PUT", url, {"body": "x" * 70_000}, token=alice)
    assert (status, body["errcode"]) == (413, "M_TOO_LARGE")
    status, body = await client.request("PUT", url, raw=b'{"body": "\\ud800"}', token=alice)
    assert status == 400 and body["errcode"] in ("M_NOT_JSON", "M_BAD_JSON")
    status, body = await client.request("PUT", url, raw=b"\xff\xfe", token=alice)
    assert (status, body["errcode"]) == (400, "M_NOT_JSON")
    status, body = await client.request("PUT", url, [1], token=alice)
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = await client.request(
        "PUT", f"{V3}/rooms/nope/send/m.room.message/t", {}, token=alice
    )
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    # nothing of the failed sends was stored: the txn id is still free
    status, body = await client.request("PUT", url, {"body": "ok"}, token=alice)
    assert status == 200
    status, event = await client.request(
        "GET", f"{V3}/rooms/{room_id}/event/{quote(body['event_id'])}", token=alice
    )
    assert event["content"] == {"body": "ok"}


async def test_state_put_and_get(client: Client) -> None:
    alice = await client.register("alice")
    bob = await client.register("bob")
    token = alice["access_token"]
    room_id = await _room(client, token, preset="public_chat")
    base = f"{V3}/rooms/{room_id}/state"
    status, body = await client.request("PUT", f"{base}/m.room.name", {"name": "N"}, token=token)
    assert status == 200 and body["event_id"].startswith("$")
    status, body = await client.request("GET", f"{base}/m.room.name", token=token)
    assert (status, body) == (200, {"name": "N"})
    status, body = await client.request("GET", f"{base}/m.room.name/", token=token)
    assert (status, body) == (200, {"name": "N"})
    key = quote(alice["user_id"])
    status, _ = await client.request("PUT", f"{base}/org.example.s/{key}", {"a": 1}, token=token)
    assert status == 200
    status, body = await client.request("GET", f"{base}/org.example.s/{key}", token=token)
    assert body == {"a": 1}
    other = quote(bob["user_id"])
    status, body = await client.request("PUT", f"{base}/org.example.s/{other}", {}, token=token)
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = await client.request("GET", f"{base}/m.room.avatar", token=token)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await client.request("GET", base, token=bob["access_token"])
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = await client.request(
        "PUT", f"{base}/m.room.name", {"name": "B"}, token=bob["access_token"]
    )
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")

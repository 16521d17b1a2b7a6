"""The deprecated ``GET /events`` stream over HTTP (old_sync.yaml ``getEvents``): tokens,
long-polling, timeline and typing events with their room, the legacy r0 path."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.conftest import Client
from tests.api.sync_helpers import V3, create_room, join, register, send


async def events(client: Client, token: str, path: str = V3, **params: Any) -> Any:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    status, body = await client.request("GET", f"{path}/events?{query}", token=token)
    assert status == 200, body
    return body


async def test_events_stream_from_now_then_long_poll(client: Client) -> None:
    _, a = await register(client, "alice")
    bob, b = await register(client, "bob")
    room = await create_room(client, a, preset="public_chat")
    await join(client, b, room)
    await send(client, a, room, "before")
    # Without 'from' the stream starts now: nothing from before (only bob coming
    # online, as listening to the stream connects him).
    first = await events(client, b, "/_matrix/client/r0", timeout=0)
    assert first["start"] and first["end"]
    assert [e["type"] for e in first["chunk"]] in ([], ["m.presence"])

    # A long-poll returns when something happens.
    poll = asyncio.create_task(events(client, b, **{"from": first["end"], "timeout": 5000}))
    await asyncio.sleep(0.2)
    assert not poll.done()
    event_id = await send(client, a, room, "hello")
    body = await asyncio.wait_for(poll, 5)
    [message] = [e for e in body["chunk"] if e["type"] == "m.room.message"]
    assert message["event_id"] == event_id and message["room_id"] == room
    assert message["content"]["body"] == "hello" and body["start"] == first["end"]

    # Typing comes through as an ephemeral event of the room.
    status, _ = await client.request(
        "PUT", f"{V3}/rooms/{room}/typing/{bob}", {"typing": True, "timeout": 10000}, token=b
    )
    assert status == 200
    body = await events(client, b, **{"from": body["end"], "timeout": 2000})
    typing = [e for e in body["chunk"] if e["type"] == "m.typing"]
    assert typing and typing[0]["room_id"] == room
    assert typing[0]["content"]["user_ids"] == [bob]
    # Nothing new: an empty chunk after the timeout, the same position.
    quiet = await events(client, b, **{"from": body["end"], "timeout": 100})
    assert [e for e in quiet["chunk"] if e["type"] != "m.presence"] == []


async def test_events_stream_bad_token(client: Client) -> None:
    _, a = await register(client, "alice")
    status, body = await client.request("GET", f"{V3}/events?from=nonsense", token=a)
    assert status == 400 and body["errcode"] == "M_INVALID_PARAM"
    status, _ = await client.request("GET", f"{V3}/events")
    assert status == 401

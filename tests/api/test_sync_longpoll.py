"""Long-polling /sync: wakes for the user's rooms within milliseconds, not for others."""

from __future__ import annotations

import asyncio
import time

from tests.api.conftest import Client
from tests.api.sync_helpers import (
    create_room,
    register,
    send,
    sync,
    timeline_bodies,
    two_in_room,
)


async def test_long_poll_wakes_on_message_in_shared_room(client: Client) -> None:
    _, a_tok, _, b_tok, room = await two_in_room(client)
    since = (await sync(client, a_tok))["next_batch"]

    poll = asyncio.create_task(sync(client, a_tok, since=since, timeout=10_000))
    await asyncio.sleep(0.2)
    assert not poll.done()
    sent_at = time.monotonic()
    await send(client, b_tok, room, "wake up")
    body = await asyncio.wait_for(poll, 5)
    latency = time.monotonic() - sent_at
    assert timeline_bodies(body["rooms"]["join"][room]) == ["wake up"]
    assert latency < 0.1, latency


async def test_long_poll_ignores_rooms_of_others_and_times_out_empty(client: Client) -> None:
    _, a_tok = await register(client, "alice")
    _, b_tok = await register(client, "bob")
    await create_room(client, a_tok)
    bobs_room = await create_room(client, b_tok)
    since = (await sync(client, a_tok))["next_batch"]
    server = client.server
    wakeups = server.notifier.wakeups

    started = time.monotonic()
    poll = asyncio.create_task(sync(client, a_tok, since=since, timeout=600))
    await asyncio.sleep(0.1)
    await send(client, b_tok, bobs_room, "not for alice")
    body = await poll
    waited = time.monotonic() - started
    assert waited >= 0.55, waited
    assert server.notifier.wakeups == wakeups  # alice's waiter was never woken
    assert body["rooms"] == {"join": {}, "invite": {}, "leave": {}, "knock": {}}
    assert body["account_data"] == {"events": []} and body["to_device"] == {"events": []}
    assert body["next_batch"]
    # the empty answer's token still moves on past bob's event: nothing is re-sent
    again = await sync(client, a_tok, since=body["next_batch"])
    assert again["rooms"]["join"] == {}
    assert server.notifier.waiting == 0


async def test_long_poll_wakes_on_invite_and_account_data(client: Client) -> None:
    alice, a_tok = await register(client, "alice")
    _, b_tok = await register(client, "bob")
    room = await create_room(client, b_tok)
    since = (await sync(client, a_tok))["next_batch"]

    poll = asyncio.create_task(sync(client, a_tok, since=since, timeout=10_000))
    await asyncio.sleep(0.1)
    status, _ = await client.request(
        "POST", f"/_matrix/client/v3/rooms/{room}/invite", {"user_id": alice}, token=b_tok
    )
    assert status == 200
    body = await asyncio.wait_for(poll, 5)
    assert list(body["rooms"]["invite"]) == [room]

    poll = asyncio.create_task(sync(client, a_tok, since=body["next_batch"], timeout=10_000))
    await asyncio.sleep(0.1)
    status, _ = await client.request(
        "PUT", f"/_matrix/client/v3/user/{alice}/account_data/org.example", {"a": 1}, token=a_tok
    )
    assert status == 200
    body = await asyncio.wait_for(poll, 5)
    assert body["account_data"]["events"] == [{"type": "org.example", "content": {"a": 1}}]


async def test_full_state_and_initial_sync_ignore_timeout(client: Client) -> None:
    _, a_tok = await register(client, "alice")
    room = await create_room(client, a_tok)
    started = time.monotonic()
    first = await sync(client, a_tok, timeout=5000)
    second = await sync(client, a_tok, since=first["next_batch"], full_state=True, timeout=5000)
    assert time.monotonic() - started < 2
    r = second["rooms"]["join"][room]
    assert r["timeline"]["events"] == []
    types = {e["type"] for e in r["state"]["events"]}
    assert {"m.room.create", "m.room.member", "m.room.power_levels"} <= types

"""Typing in ``/sync`` over real HTTP: the ``m.typing`` ephemeral event, its deltas, its
expiry, and a long-poll woken by a typing notification."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

from tests.api.conftest import Client
from tests.api.sync_helpers import V3, ephemeral, sync, two_in_room


async def set_typing(client: Client, token: str, room_id: str, user_id: str, **body: Any) -> None:
    path = f"{V3}/rooms/{quote(room_id)}/typing/{quote(user_id)}"
    status, got = await client.request("PUT", path, body, token=token)
    assert status == 200, got


async def test_typing_in_sync_and_long_poll_wake(client: Client) -> None:
    alice, a_tok, bob, b_tok, room = await two_in_room(client)
    since = (await sync(client, b_tok))["next_batch"]
    await sync(client, a_tok)  # both have synced once: presence settled

    poll = asyncio.create_task(sync(client, b_tok, since=since, timeout=10_000))
    await asyncio.sleep(0.2)
    assert not poll.done()
    started = time.monotonic()
    await set_typing(client, a_tok, room, alice, typing=True, timeout=30_000)
    body = await asyncio.wait_for(poll, 5)
    latency = time.monotonic() - started
    assert latency < 0.5, latency
    assert ephemeral(body, room) == [{"type": "m.typing", "content": {"user_ids": [alice]}}]
    r = body["rooms"]["join"][room]
    assert r["timeline"]["events"] == []  # a room with only ephemeral news

    # Nothing new: the same token gives no typing again.
    after = await sync(client, b_tok, since=body["next_batch"])
    assert ephemeral(after, room) == []
    # Stopping is a change: the new (empty) list.
    await set_typing(client, a_tok, room, alice, typing=False)
    stopped = await sync(client, b_tok, since=after["next_batch"])
    assert ephemeral(stopped, room) == [{"type": "m.typing", "content": {"user_ids": []}}]
    # An initial sync shows who types now.
    await set_typing(client, b_tok, room, bob, typing=True, timeout=200)
    initial = await sync(client, a_tok)
    assert {"type": "m.typing", "content": {"user_ids": [bob]}} in ephemeral(initial, room)
    # The timeout ends it and wakes a waiting sync.
    since = initial["next_batch"]
    expired = await sync(client, a_tok, since=since, timeout=5_000)
    assert ephemeral(expired, room) == [{"type": "m.typing", "content": {"user_ids": []}}]


async def test_ephemeral_filter(client: Client) -> None:
    alice, a_tok, _, b_tok, room = await two_in_room(client)
    await set_typing(client, a_tok, room, alice, typing=True, timeout=30_000)
    body = await sync(client, b_tok, filter={"room": {"ephemeral": {"not_types": ["m.typing"]}}})
    assert ephemeral(body, room) == []
    body = await sync(client, b_tok, filter={"room": {"ephemeral": {"types": ["m.typing"]}}})
    assert [e["type"] for e in ephemeral(body, room)] == ["m.typing"]

"""Receipts in ``/sync`` over real HTTP: aggregated ``m.receipt`` events, private receipts
only for their owner (and not waking others), threaded receipts."""

from __future__ import annotations

import asyncio

from tests.api.conftest import Client
from tests.api.sync_helpers import (
    V3,
    ephemeral,
    send,
    sync,
    two_in_room,
)


async def receipt(
    client: Client, token: str, room: str, rtype: str, event_id: str, **body: str
) -> None:
    path = f"{V3}/rooms/{room}/receipt/{rtype}/{event_id}"
    status, got = await client.request("POST", path, body, token=token)
    assert status == 200, got


async def test_receipts_in_sync(client: Client) -> None:
    alice, a_tok, bob, b_tok, room = await two_in_room(client)
    e1 = await send(client, a_tok, room, "one")
    a_since = (await sync(client, a_tok))["next_batch"]
    b_since = (await sync(client, b_tok))["next_batch"]

    # A private receipt: Bob sees it, Alice's long-poll is not even woken.
    poll = asyncio.create_task(sync(client, a_tok, since=a_since, timeout=400))
    await asyncio.sleep(0.1)
    await receipt(client, b_tok, room, "m.read.private", e1)
    body = await poll
    assert ephemeral(body, room) == []
    own = await sync(client, b_tok, since=b_since)
    (event,) = ephemeral(own, room)
    assert event["type"] == "m.receipt"
    assert list(event["content"][e1]) == ["m.read.private"]
    assert list(event["content"][e1]["m.read.private"]) == [bob]

    # A public receipt wakes Alice and shows up aggregated.
    poll = asyncio.create_task(sync(client, a_tok, since=body["next_batch"], timeout=10_000))
    await asyncio.sleep(0.1)
    await receipt(client, b_tok, room, "m.read", e1)
    body = await asyncio.wait_for(poll, 5)
    (event,) = ephemeral(body, room)
    assert list(event["content"]) == [e1]
    assert list(event["content"][e1]) == ["m.read"]
    assert isinstance(event["content"][e1]["m.read"][bob]["ts"], int)

    # Threaded receipt, then the initial sync has everything Alice may see.
    await receipt(client, a_tok, room, "m.read", e1, thread_id="main")
    initial = await sync(client, a_tok)
    (event,) = [e for e in ephemeral(initial, room) if e["type"] == "m.receipt"]
    reads = event["content"][e1]["m.read"]
    assert set(reads) == {alice, bob}
    assert reads[alice]["thread_id"] == "main" and "thread_id" not in reads[bob]
    assert "m.read.private" not in event["content"][e1]

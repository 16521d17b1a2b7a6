"""The fully read marker reaches ``/sync`` as room account data, waking a long-poll."""

from __future__ import annotations

import asyncio

from tests.api.conftest import Client
from tests.api.sync_helpers import V3, send, sync, two_in_room


async def test_fully_read_marker_in_sync(client: Client) -> None:
    _, a_tok, _, b_tok, room = await two_in_room(client)
    e1 = await send(client, a_tok, room, "one")
    since = (await sync(client, b_tok))["next_batch"]
    poll = asyncio.create_task(sync(client, b_tok, since=since, timeout=10_000))
    await asyncio.sleep(0.2)
    status, _ = await client.request(
        "POST", f"{V3}/rooms/{room}/read_markers", {"m.fully_read": e1}, token=b_tok
    )
    assert status == 200
    body = await asyncio.wait_for(poll, 5)
    room_data = body["rooms"]["join"][room]["account_data"]["events"]
    assert {"type": "m.fully_read", "content": {"event_id": e1}} in room_data

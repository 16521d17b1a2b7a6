"""Presence in ``/sync`` over real HTTP: ``presence.events`` of users sharing a room,
deltas, a long-poll woken by a presence change, ``set_presence``, and the filter."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from tests.api.conftest import Client
from tests.api.sync_helpers import V3, create_room, join, register, sync


def presence_of(body: Any) -> dict[str, Any]:
    return {e["sender"]: e["content"] for e in body["presence"]["events"]}


async def test_presence_in_sync(client: Client) -> None:
    alice, a_tok = await register(client, "alice")
    bob, b_tok = await register(client, "bob")
    carol, c_tok = await register(client, "carol")
    room = await create_room(client, a_tok, preset="public_chat")
    await join(client, b_tok, room)
    await create_room(client, c_tok)  # Carol shares no room with them
    initial = await sync(client, b_tok)
    seen = presence_of(initial)
    assert set(seen) == {alice, bob}
    assert seen[alice]["presence"] == "online" and seen[alice]["currently_active"] is True

    poll = asyncio.create_task(sync(client, b_tok, since=initial["next_batch"], timeout=10_000))
    await asyncio.sleep(0.2)
    assert not poll.done()
    path = f"{V3}/presence/{quote(alice)}/status"
    body = {"presence": "unavailable", "status_msg": "brb"}
    assert (await client.request("PUT", path, body, token=a_tok))[0] == 200
    woke = await asyncio.wait_for(poll, 5)
    got = presence_of(woke)
    assert list(got) == [alice]
    assert got[alice]["presence"] == "unavailable" and got[alice]["status_msg"] == "brb"
    assert "currently_active" not in got[alice]  # only sent for online users
    # Carol's changes never reach Bob.
    c_path = f"{V3}/presence/{quote(carol)}/status"
    assert (await client.request("PUT", c_path, {"presence": "online"}, token=c_tok))[0] == 200
    later = await sync(client, b_tok, since=woke["next_batch"])
    assert carol not in presence_of(later)
    # The presence filter.
    filtered = await sync(client, b_tok, filter={"presence": {"not_senders": [alice]}})
    assert alice not in presence_of(filtered)


async def test_set_presence_on_sync(client: Client) -> None:
    dave, d_tok = await register(client, "dave")
    path = f"{V3}/presence/{quote(dave)}/status"
    await sync(client, d_tok, set_presence="offline")
    assert (await client.request("GET", path, token=d_tok))[1]["presence"] == "offline"
    await sync(client, d_tok, set_presence="unavailable")
    assert (await client.request("GET", path, token=d_tok))[1]["presence"] == "unavailable"

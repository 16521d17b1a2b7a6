"""Backfill and server ACLs across real ranvier servers on loopback HTTPS: history from
before a join (and from while a server was down) reached by paging /messages; ACL
denial in both directions."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ranvier.federation.client import RemoteError, path_segment
from ranvier.http.types import MatrixError
from tests.federation.helpers import (
    call,
    craft,
    eventually,
    has_event,
    login,
    membership,
    send_txn,
    shared_room,
    start_two,
)
from tests.federation.peers import Peer, start_peer


async def page_all(peer: Peer, room_id: str, token: str) -> list[dict[str, Any]]:
    """Every event /messages gives, paging backwards from now, oldest first."""
    out: list[dict[str, Any]] = []
    frm = ""
    for _ in range(50):
        query = f"?dir=b&limit=40{'&from=' + frm if frm else ''}"
        status, body = await call(
            peer, "GET", f"/_matrix/client/v3/rooms/{path_segment(room_id)}/messages{query}", token
        )
        assert status == 200, body
        out.extend(body["chunk"])
        if "end" not in body:
            break
        frm = body["end"]
    out.reverse()
    return out


async def test_backfill_after_join_and_downtime(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    alice = f"@alice:{a.name}"
    await a.hs.accounts.create_account(alice, "pw")
    token = await login(b, "bob")
    bob = f"@bob:{b.name}"
    room_id = await a.hs.rooms.create_room(alice, preset="public_chat", name="History")
    # History visibility "shared" (the public_chat default): bob may read what came before.
    early = [
        await a.hs.rooms.send_event(room_id, alice, "m.room.message", {"body": f"early {i}"})
        for i in range(30)
    ]
    await b.hs.membership.join(room_id, bob, servers=[a.name])
    assert not await has_event(b, early[-1])  # B holds the room from the join on
    fed_a = a.hs.federation_rooms
    assert fed_a is not None
    fed_a.sender.backoff_base_s = 0.05
    # B goes down while A sends 100 messages; restarted, they all arrive (A's queue).
    await b.stop()
    peers.remove(b)
    late = [
        await a.hs.rooms.send_event(room_id, alice, "m.room.message", {"body": f"late {i}"})
        for i in range(100)
    ]
    b = await start_peer(b.directory, port=b.port, database=databases["b"])
    peers.append(b)
    for event_id in late:
        await eventually(lambda eid=event_id: has_event(b, eid))  # type: ignore[misc]
    current_before = await b.hs.room_storage.events.current_snapshot_nid(
        (await b.hs.room_storage.events.get_room(room_id)).nid  # type: ignore[union-attr]
    )
    # Paging back past the join backfills the early history from A, in order.
    events = await page_all(b, room_id, token)
    bodies = [e["content"]["body"] for e in events if e["type"] == "m.room.message"]
    assert bodies == [f"early {i}" for i in range(30)] + [f"late {i}" for i in range(100)]
    assert events[0]["type"] == "m.room.create"
    fed_b = b.hs.federation_rooms
    assert fed_b is not None and fed_b.source.requests.get("backfill", 0) >= 1
    for event_id in early:
        stored = await b.hs.room_storage.events.get_by_id(event_id)
        assert stored is not None and stored.stream_ordering < 0 and not stored.soft_failed
    # Backfill changed neither the current state nor the extremities: sending still works.
    room = await b.hs.room_storage.events.get_room(room_id)
    assert room is not None
    assert await b.hs.room_storage.events.current_snapshot_nid(room.nid) == current_before
    reply = await b.hs.rooms.send_event(room_id, bob, "m.room.message", {"body": "caught up"})
    await eventually(lambda: has_event(a, reply))
    # Paging again at the start asks nobody (nothing is missing now).
    asked = fed_b.source.requests.get("backfill", 0)
    await page_all(b, room_id, token)
    assert fed_b.source.requests.get("backfill", 0) == asked


async def test_acl_denial_both_ways(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    """An ACL denying B's host (loopback peers differ only by port, which ACLs ignore):
    A neither sends to B nor accepts B's events, joins or invites."""
    a, b = await start_two(tmp_path, peers, databases)
    room_id, alice, bob = await shared_room(a, b)
    before = await a.hs.rooms.send_event(room_id, alice, "m.room.message", {"body": "before"})
    await eventually(lambda: has_event(b, before))
    fed_a, fed_b = a.hs.federation_rooms, b.hs.federation_rooms
    assert fed_a is not None and fed_b is not None
    acl = {"allow": ["*"], "deny": ["127.0.0.1"], "allow_ip_literals": True}
    await a.hs.rooms.set_state(room_id, alice, "m.room.server_acl", "", acl)
    # Out: A queues nothing more for B.
    sent = fed_a.sender.sent_transactions
    after = await a.hs.rooms.send_event(room_id, alice, "m.room.message", {"body": "after"})
    assert await fed_a.sender.pending(b.name) == 0
    await asyncio.sleep(0.5)
    assert not await has_event(b, after)
    assert fed_a.sender.sent_transactions == sent
    # In: B (which never heard of the ACL) sends; A refuses the PDU.
    mine = await b.hs.rooms.send_event(room_id, bob, "m.room.message", {"body": "denied"})

    async def delivered() -> bool:
        return await fed_b.sender.pending(a.name) == 0

    await eventually(delivered)
    assert await a.hs.room_storage.events.get_by_id(mine) is None
    crafted = await craft(a, b, room_id, bob, "m.room.message", {"body": "crafted"})
    answer = await send_txn(b, a, "acl-1", [crafted.pdu])
    assert "ACL" in answer["pdus"][crafted.event_id]["error"]
    # Joins, knocks, leaves and invites are refused too.
    dave = f"@dave:{b.name}"
    await b.hs.accounts.create_account(dave, "pw")
    # (B is in the room, so dave's join is built by B and sent: A refuses it.)
    await b.hs.membership.join(room_id, dave)
    await eventually(delivered)
    assert await membership(a, room_id, dave) is None
    for path in (
        f"/_matrix/federation/v1/make_join/{path_segment(room_id)}/{path_segment(dave)}",
        f"/_matrix/federation/v1/make_leave/{path_segment(room_id)}/{path_segment(bob)}",
        f"/_matrix/federation/v1/make_knock/{path_segment(room_id)}/{path_segment(dave)}",
    ):
        with pytest.raises(RemoteError) as err:
            await b.hs.federation.client.get_json(a.name, path, {"ver": ["10"]})
        assert (err.value.status, err.value.errcode) == (403, "M_FORBIDDEN")
    with pytest.raises(MatrixError) as mx:
        await a.hs.membership.invite(room_id, alice, dave)
    assert mx.value.status == 403
    assert await membership(a, room_id, dave) is None

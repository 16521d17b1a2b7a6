"""``/sync`` details found by Sytest's sync area, each checked against the spec over real
HTTP (client-server-api "Syncing", "Lazy-loading room members", "Filtering"):

* redundant membership events are left out of lazy-loading incremental syncs, unless
  ``include_redundant_members``; a retried sync (same ``since``) gets them again;
* an incremental sync whose room has nothing left after filtering leaves the room out;
* a state event hidden by history visibility but part of the current state still shows
  in the timeline, so the client's state stays right;
* ``event_format: federation`` events carry their ``event_id``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.api.conftest import Client
from tests.api.sync_helpers import V3, create_room, invite, join, leave, register, send, sync

LAZY = {"room": {"state": {"lazy_load_members": True}, "timeline": {"limit": 10}}}
REDUNDANT = {
    "room": {
        "state": {"lazy_load_members": True, "include_redundant_members": True},
        "timeline": {"limit": 10},
    }
}


def members(body: Any, room_id: str) -> dict[str, str]:
    """``{state_key: membership}`` of the member events in a joined room's ``state``."""
    room = body["rooms"]["join"][room_id]
    return {
        e["state_key"]: e["content"]["membership"]
        for e in room["state"]["events"]
        if e["type"] == "m.room.member"
    }


async def test_lazy_members_are_not_resent_unless_asked(client: Client) -> None:
    alice, a = await register(client, "alice")
    bob, b = await register(client, "bob")
    carol, c = await register(client, "carol")
    room_id = await create_room(client, a, preset="public_chat")
    await join(client, b, room_id)
    await join(client, c, room_id)
    for i in range(10):
        await send(client, b, room_id, f"b{i}")
    for i in range(5):
        await send(client, c, room_id, f"c{i}")

    first = await sync(client, a, filter=LAZY)
    assert members(first, room_id) == {alice: "join", bob: "join", carol: "join"}
    await send(client, b, room_id, "bob again")
    await send(client, c, room_id, "carol again")
    again = await sync(client, a, filter=LAZY, since=first["next_batch"])
    assert members(again, room_id) == {}
    # The response might have been lost: the same ``since`` gets the same answer.
    retry = await sync(client, a, filter=LAZY, since=first["next_batch"])
    assert members(retry, room_id) == {}

    # A member who leaves is sent (it changed), the others still are not.
    await leave(client, c, room_id)
    await send(client, b, room_id, "bob once more")
    third = await sync(client, a, filter=LAZY, since=again["next_batch"])
    timeline = third["rooms"]["join"][room_id]["timeline"]["events"]
    assert [e["state_key"] for e in timeline if e["type"] == "m.room.member"] == [carol]
    assert members(third, room_id) == {}

    # With include_redundant_members they come every time.
    first_r = await sync(client, a, filter=REDUNDANT)
    await send(client, b, room_id, "bob with redundancy")
    again_r = await sync(client, a, filter=REDUNDANT, since=first_r["next_batch"])
    assert members(again_r, room_id) == {bob: "join"}


async def test_lazy_members_resent_when_the_since_token_predates_them(client: Client) -> None:
    """A device that presents a ``since`` from before the response that carried a member
    (that response was lost) gets the member again."""
    alice, a = await register(client, "alice")
    bob, b = await register(client, "bob")
    room_id = await create_room(client, a, preset="public_chat")
    base = await sync(client, a, filter=LAZY)
    await join(client, b, room_id)
    await send(client, b, room_id, "hello")
    lost = await sync(client, a, filter=LAZY, since=base["next_batch"])
    assert bob in {
        e["state_key"]
        for e in lost["rooms"]["join"][room_id]["timeline"]["events"]
        if e["type"] == "m.room.member"
    }
    await send(client, b, room_id, "more")
    # Gapped: a tiny timeline limit keeps the join out of the timeline.
    gapped = {"room": {"state": {"lazy_load_members": True}, "timeline": {"limit": 1}}}
    retried = await sync(client, a, filter=gapped, since=base["next_batch"])
    assert members(retried, room_id) == {bob: "join"}
    # But once the client moved past that response, bob is known.
    await send(client, b, room_id, "and more")
    later = await sync(client, a, filter=gapped, since=lost["next_batch"])
    assert members(later, room_id) == {}
    assert alice not in members(later, room_id)


async def test_incremental_sync_leaves_out_rooms_with_nothing_after_filtering(
    client: Client,
) -> None:
    alice, a = await register(client, "alice")
    room_id = await create_room(client, a)
    flt = {
        "room": {
            "timeline": {"types": []},
            "state": {"types": ["org.example.state"]},
            "ephemeral": {"types": []},
        },
        "presence": {"types": []},
    }
    first = await sync(client, a, filter=flt)
    status, _ = await client.request(
        "PUT",
        f"{V3}/rooms/{quote(room_id)}/state/m.room.member/{quote(alice)}",
        {"membership": "join", "displayname": "boris"},
        token=a,
    )
    assert status == 200
    await send(client, a, room_id, "hidden by the filter")
    body = await sync(client, a, filter=flt, since=first["next_batch"])
    assert room_id not in body.get("rooms", {}).get("join", {})

    # A membership change still brings the room (its member counts changed).
    bob, _ = await register(client, "bob")
    await invite(client, a, room_id, bob)
    body = await sync(client, a, filter=flt, since=first["next_batch"])
    room = body["rooms"]["join"][room_id]
    assert room["summary"]["m.invited_member_count"] == 1
    # Without the filter the room is there with the display name change.
    body = await sync(client, a, since=first["next_batch"])
    names = [
        e["content"].get("displayname")
        for e in body["rooms"]["join"][room_id]["timeline"]["events"]
        if e["type"] == "m.room.member"
    ]
    assert "boris" in names


async def test_current_state_shows_in_timeline_despite_history_visibility(
    client: Client,
) -> None:
    _, a = await register(client, "creator")
    syncer, s = await register(client, "syncer")
    invitee, i = await register(client, "invitee")
    room_id = await create_room(client, a, preset="public_chat")
    await join(client, s, room_id)
    status, _ = await client.request(
        "PUT",
        f"{V3}/rooms/{quote(room_id)}/state/m.room.history_visibility",
        {"history_visibility": "joined"},
        token=a,
    )
    assert status == 200
    await invite(client, a, room_id, invitee)
    first = await sync(client, s)
    await leave(client, s, room_id)
    await join(client, i, room_id)  # while syncer is away: hidden by "joined"
    await send(client, a, room_id, "also hidden")
    await join(client, s, room_id)
    body = await sync(client, s, since=first["next_batch"])
    timeline = body["rooms"]["join"][room_id]["timeline"]["events"]
    joins = [
        e for e in timeline if e["type"] == "m.room.member" and e["content"]["membership"] == "join"
    ]
    assert [e["state_key"] for e in joins] == [invitee, syncer]
    # Messages of that time stay hidden.
    assert not [e for e in timeline if e["type"] == "m.room.message"]


async def test_federation_event_format_carries_event_ids(client: Client) -> None:
    _, a = await register(client, "alice")
    room_id = await create_room(client, a, room_version="10")
    event_id = await send(client, a, room_id, "Test message")
    body = await sync(
        client, a, filter={"event_format": "federation", "room": {"timeline": {"limit": 1}}}
    )
    (event,) = body["rooms"]["join"][room_id]["timeline"]["events"]
    assert event["event_id"] == event_id
    assert event["content"]["body"] == "Test message"
    for key in ("prev_events", "auth_events", "depth", "hashes", "signatures", "room_id"):
        assert key in event
    for event in body["rooms"]["join"][room_id]["state"]["events"]:
        assert event["event_id"].startswith("$") and "signatures" in event


async def test_forward_pagination_from_next_batch_keeps_an_end_token(client: Client) -> None:
    _, a = await register(client, "alice")
    room_id = await create_room(client, a)
    await send(client, a, room_id, "1")
    next_batch = (await sync(client, a))["next_batch"]
    second = await send(client, a, room_id, "2")
    base = f"{V3}/rooms/{quote(room_id)}/messages?dir=f&from={next_batch}"
    status, body = await client.request("GET", base, token=a)
    assert status == 200
    assert [e["event_id"] for e in body["chunk"]] == [second]
    # The token continues from the live end: a later event shows up from it.
    third = await send(client, a, room_id, "3")
    status, more = await client.request(
        "GET", f"{V3}/rooms/{quote(room_id)}/messages?dir=f&from={body['end']}", token=a
    )
    assert [e["event_id"] for e in more["chunk"]] == [third] and "end" in more
    # Backwards, reaching the room's creation still leaves ``end`` out.
    status, back = await client.request(
        "GET", f"{V3}/rooms/{quote(room_id)}/messages?dir=b&limit=100", token=a
    )
    assert back["chunk"][-1]["type"] == "m.room.create" and "end" not in back

"""/sync over real HTTP: initial and incremental syncs, state, summary, tokens, errors."""

from __future__ import annotations

from tests.api.conftest import Client
from tests.api.sync_helpers import (
    create_room,
    join,
    register,
    send,
    sync,
    timeline_bodies,
    two_in_room,
)


async def test_initial_sync_shows_room_timeline_and_state(client: Client) -> None:
    alice, a_tok = await register(client, "alice")
    bob, b_tok = await register(client, "bob")
    room = await create_room(client, a_tok, preset="public_chat", name="Lounge")
    await join(client, b_tok, room)
    await send(client, a_tok, room, "hello")
    await send(client, b_tok, room, "hi alice")
    for i in range(9):
        await send(client, a_tok, room, f"m{i}")

    body = await sync(client, a_tok)
    assert body["next_batch"].startswith("s")
    assert body["to_device"] == {"events": []}
    # both sent events, so both are online (client-server-api "Presence")
    assert {e["sender"] for e in body["presence"]["events"]} == {alice, bob}
    assert body["device_lists"] == {"changed": [], "left": []}
    assert "signed_curve25519" in body["device_one_time_keys_count"]
    joined = body["rooms"]["join"]
    assert list(joined) == [room]
    r = joined[room]
    # 11 messages after the room's creation events: the default limit of 10 cuts
    events = r["timeline"]["events"]
    assert len(events) == 10 and r["timeline"]["limited"] is True
    assert timeline_bodies(r) == ["hi alice"] + [f"m{i}" for i in range(9)]
    assert all("room_id" not in e for e in events)
    # state is the state before the first timeline event: it holds the create event,
    # which is not in the timeline, and nothing that is.
    timeline_ids = {e["event_id"] for e in events}
    state = r["state"]["events"]
    assert any(e["type"] == "m.room.create" for e in state)
    assert not timeline_ids & {e["event_id"] for e in state}
    summary = r["summary"]
    assert summary["m.joined_member_count"] == 2 and summary["m.invited_member_count"] == 0
    assert "m.heroes" not in summary  # the room has a name
    assert r["unread_notifications"] == {"highlight_count": 0, "notification_count": 0}
    assert r["ephemeral"] == {"events": []}
    # the sender's own message carries its transaction id; bob's does not
    own = [e for e in events if e["sender"] == alice and e["type"] == "m.room.message"]
    theirs = [e for e in events if e["sender"] == bob and e["type"] == "m.room.message"]
    assert own[0]["unsigned"]["transaction_id"] == "tm0"
    assert "transaction_id" not in theirs[0]["unsigned"]


async def test_state_plus_timeline_is_the_whole_state(client: Client) -> None:
    _, a_tok = await register(client, "alice")
    room = await create_room(client, a_tok, topic="T")
    body = await sync(client, a_tok, filter={"room": {"timeline": {"limit": 3}}})
    r = body["rooms"]["join"][room]
    assert len(r["timeline"]["events"]) == 3 and r["timeline"]["limited"]
    have = {(e["type"], e["state_key"]) for e in r["state"]["events"]}
    have |= {(e["type"], e["state_key"]) for e in r["timeline"]["events"] if "state_key" in e}
    status, full = await client.request(
        "GET", f"/_matrix/client/v3/rooms/{room}/state", token=a_tok
    )
    assert status == 200
    assert have == {(e["type"], e["state_key"]) for e in full}
    # Without a name or alias the summary names heroes (nobody else here).
    assert r["summary"]["m.heroes"] == []


async def test_incremental_sync_sees_only_new_events(client: Client) -> None:
    _, a_tok, _, b_tok, room = await two_in_room(client)
    first = await sync(client, a_tok)
    await send(client, b_tok, room, "one")
    await send(client, b_tok, room, "two")
    second = await sync(client, a_tok, since=first["next_batch"])
    r = second["rooms"]["join"][room]
    assert timeline_bodies(r) == ["one", "two"]
    assert r["timeline"]["limited"] is False
    assert r["state"]["events"] == []
    assert "summary" not in r  # membership did not change
    third = await sync(client, a_tok, since=second["next_batch"])
    assert third["rooms"]["join"] == {}
    assert third["next_batch"] == second["next_batch"]


async def test_use_state_after(client: Client) -> None:
    _, a_tok = await register(client, "alice")
    room = await create_room(client, a_tok)
    first = await sync(client, a_tok, use_state_after=True)
    r = first["rooms"]["join"][room]
    assert "state" not in r
    after = {(e["type"], e["state_key"]) for e in r["state_after"]["events"]}
    assert ("m.room.create", "") in after and ("m.room.join_rules", "") in after
    status, _ = await client.request(
        "PUT", f"/_matrix/client/v3/rooms/{room}/state/m.room.topic", {"topic": "x"}, token=a_tok
    )
    assert status == 200
    second = await sync(client, a_tok, since=first["next_batch"], use_state_after=True)
    r = second["rooms"]["join"][room]
    # the topic change is in the timeline AND in state_after (clients apply only the latter)
    assert [e["type"] for e in r["state_after"]["events"]] == ["m.room.topic"]
    assert r["timeline"]["events"][-1]["type"] == "m.room.topic"


async def test_sync_errors(client: Client) -> None:
    alice, a_tok = await register(client, "alice")
    for bad in ("garbage", "s1_x_3", "s1_2_3_4_5_6_7_8", "s-1"):
        body = await sync(client, a_tok, expect=400, since=bad)
        assert body["errcode"] == "M_INVALID_PARAM"
    status, body = await client.request(
        "GET", "/_matrix/client/v3/sync?filter=%7Bnot%20json", token=a_tok
    )
    assert (status, body["errcode"]) == (400, "M_NOT_JSON")
    body = await sync(client, a_tok, expect=400, filter={"room": {"timeline": {"limit": "x"}}})
    assert body["errcode"] == "M_BAD_JSON"
    body = await sync(client, a_tok, expect=404, filter="12345")
    assert body["errcode"] == "M_NOT_FOUND"
    body = await sync(client, a_tok, expect=400, filter="abc")
    assert body["errcode"] == "M_INVALID_PARAM"
    body = await sync(client, a_tok, expect=400, set_presence="busy")
    assert body["errcode"] == "M_INVALID_PARAM"
    body = await sync(client, a_tok, expect=400, timeout="soon")
    assert body["errcode"] == "M_INVALID_PARAM"
    status, body = await client.request("GET", "/_matrix/client/v3/sync")
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")
    # a stored filter by id works
    status, created = await client.request(
        "POST",
        f"/_matrix/client/v3/user/{alice}/filter",
        {"room": {"timeline": {"limit": 1}}},
        token=a_tok,
    )
    assert status == 200
    room = await create_room(client, a_tok)
    body = await sync(client, a_tok, filter=created["filter_id"], set_presence="offline")
    assert len(body["rooms"]["join"][room]["timeline"]["events"]) == 1

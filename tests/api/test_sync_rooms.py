"""/sync sections over real HTTP: filters, invites, leaves, account data, to-device."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Client
from tests.api.sync_helpers import (
    V3,
    create_room,
    invite,
    join,
    leave,
    messages,
    register,
    send,
    set_ignored,
    sync,
    timeline_bodies,
    two_in_room,
)


async def test_timeline_filters_and_lazy_loading(client: Client) -> None:
    alice, a_tok = await register(client, "alice")
    bob, b_tok = await register(client, "bob")
    carol, c_tok = await register(client, "carol")
    room = await create_room(client, a_tok, preset="public_chat", name="Chat")
    other = await create_room(client, a_tok)
    await join(client, b_tok, room)
    await join(client, c_tok, room)
    await send(client, b_tok, room, "from bob")
    await send(client, c_tok, room, "from carol")

    flt: dict[str, Any] = {
        "room": {
            "not_rooms": [other],
            "timeline": {"types": ["m.room.message"], "not_senders": [carol], "limit": 5},
            "state": {"lazy_load_members": True},
        }
    }
    body = await sync(client, a_tok, filter=flt)
    assert list(body["rooms"]["join"]) == [room]
    r = body["rooms"]["join"][room]
    assert timeline_bodies(r) == ["from bob"]
    assert {e["type"] for e in r["timeline"]["events"]} == {"m.room.message"}
    members = sorted(e["state_key"] for e in r["state"]["events"] if e["type"] == "m.room.member")
    # lazy loading: the timeline's sender and the syncing user, not carol (the room has a
    # name, so there are no heroes whose membership would be sent too)
    assert members == sorted([alice, bob])
    assert "m.heroes" not in r["summary"]
    assert any(e["type"] == "m.room.create" for e in r["state"]["events"])

    body = await sync(client, a_tok, filter={"room": {"rooms": [other]}})
    assert list(body["rooms"]["join"]) == [other]
    # without a name, the heroes' memberships come with lazy loading
    status, _ = await client.request(
        "PUT", f"{V3}/rooms/{room}/state/m.room.name", {"name": ""}, token=a_tok
    )
    assert status == 200
    body = await sync(client, a_tok, filter=flt)
    r = body["rooms"]["join"][room]
    assert sorted(r["summary"]["m.heroes"]) == sorted([bob, carol])
    members = sorted(e["state_key"] for e in r["state"]["events"] if e["type"] == "m.room.member")
    assert members == sorted([alice, bob, carol])
    body = await sync(
        client, a_tok, filter={"event_fields": ["type", "content.body"], "room": {"rooms": [room]}}
    )
    events = body["rooms"]["join"][room]["timeline"]["events"]
    assert events[-2] == {"type": "m.room.message", "content": {"body": "from carol"}}
    assert events[-1] == {"type": "m.room.name"}  # no content.body to keep
    body = await sync(client, a_tok, filter={"event_format": "federation"})
    pdu = body["rooms"]["join"][room]["timeline"]["events"][-2]
    assert "prev_events" in pdu and "signatures" in pdu


async def test_invite_then_join_then_leave(client: Client) -> None:
    alice, a_tok = await register(client, "alice")
    bob, b_tok = await register(client, "bob")
    room = await create_room(client, a_tok, name="Secret club", topic="shh")
    await send(client, a_tok, room, "before the invite")
    since = (await sync(client, b_tok))["next_batch"]
    await invite(client, a_tok, room, bob)

    body = await sync(client, b_tok, since=since)
    assert body["rooms"]["join"] == {}
    invite_state = body["rooms"]["invite"][room]["invite_state"]["events"]
    by_type = {e["type"]: e for e in invite_state}
    assert by_type["m.room.name"]["content"] == {"name": "Secret club"}
    assert {"m.room.create", "m.room.join_rules", "m.room.topic"} <= set(by_type)
    for e in invite_state:
        assert set(e) == {"content", "sender", "state_key", "type"}
    own = invite_state[-1]
    assert (own["type"], own["state_key"], own["content"]["membership"]) == (
        "m.room.member",
        bob,
        "invite",
    )
    assert own["sender"] == alice
    # the invite appears once, then not again
    again = await sync(client, b_tok, since=body["next_batch"])
    assert again["rooms"]["invite"] == {}

    await join(client, b_tok, room)
    body = await sync(client, b_tok, since=again["next_batch"])
    assert body["rooms"]["invite"] == {}
    joined = body["rooms"]["join"][room]
    # newly joined: full state, summary, history (shared visibility) in the timeline
    assert any(e["type"] == "m.room.create" for e in joined["state"]["events"]) or any(
        e["type"] == "m.room.create" for e in joined["timeline"]["events"]
    )
    assert joined["summary"]["m.joined_member_count"] == 2
    assert joined["timeline"]["events"][-1]["content"]["membership"] == "join"
    # ... and its timeline holds the latest history, as on an initial sync
    assert timeline_bodies(joined) == ["before the invite"]

    await send(client, a_tok, room, "bye soon")
    await leave(client, b_tok, room)
    await send(client, a_tok, room, "after bob left")
    body = await sync(client, b_tok, since=body["next_batch"])
    assert body["rooms"]["join"] == {}
    left = body["rooms"]["leave"][room]
    assert timeline_bodies(left) == ["bye soon"]
    assert left["timeline"]["events"][-1]["content"]["membership"] == "leave"
    # left rooms are not in later syncs, nor in an initial sync without include_leave
    later = await sync(client, b_tok, since=body["next_batch"])
    assert later["rooms"]["leave"] == {}
    assert (await sync(client, b_tok))["rooms"]["leave"] == {}
    assert (
        room
        in (await sync(client, b_tok, filter={"room": {"include_leave": True}}))["rooms"]["leave"]
    )


async def test_newly_joined_room_is_limited_unless_it_starts_at_creation(client: Client) -> None:
    """The joiner holds nothing of the room: a timeline that does not reach back to the
    create event has a gap before it (limited), one that does has none."""
    _, a_tok = await register(client, "alice")
    _, b_tok = await register(client, "bob")
    messages_only = {"room": {"timeline": {"types": ["m.room.message"], "limit": 10}}}
    public = await create_room(client, a_tok, preset="public_chat")
    small = await create_room(client, a_tok, preset="public_chat")
    for i in range(4):
        await send(client, a_tok, public, f"m{i}")
    since = (await sync(client, b_tok))["next_batch"]
    await join(client, b_tok, public)
    await join(client, b_tok, small)
    body = await sync(client, b_tok, since=since, filter=messages_only)
    joined = body["rooms"]["join"][public]
    assert timeline_bodies(joined) == [f"m{i}" for i in range(4)]
    assert joined["timeline"]["limited"] is True and "prev_batch" in joined["timeline"]
    whole = (await sync(client, b_tok, since=since))["rooms"]["join"][small]
    assert whole["timeline"]["events"][0]["type"] == "m.room.create"
    assert whole["timeline"]["limited"] is False
    # an initial sync of the same room is not marked limited by this rule
    first = (await sync(client, b_tok, filter=messages_only))["rooms"]["join"][public]
    assert first["timeline"]["limited"] is False


async def test_timeline_limit_zero_syncs_state_only(client: Client) -> None:
    """``timeline.limit: 0`` (accepted, see ranvier.users.filters): no events, the
    state the filter asks for, and a gap to paginate into."""
    _, a_tok = await register(client, "alice")
    room = await create_room(client, a_tok)
    await send(client, a_tok, room, "hidden by the limit")
    flt = {"room": {"state": {"types": ["m.room.member"]}, "timeline": {"limit": 0}}}
    r = (await sync(client, a_tok, filter=flt))["rooms"]["join"][room]
    assert r["timeline"]["events"] == [] and r["timeline"]["limited"] is True
    assert [e["type"] for e in r["state"]["events"]] == ["m.room.member"]
    page = await messages(
        client, a_tok, room, dir="b", limit=1, **{"from": r["timeline"]["prev_batch"]}
    )
    assert page["chunk"][0]["content"]["body"] == "hidden by the limit"
    status, body = await client.request(
        "GET", "/_matrix/client/v3/sync?filter=" + '{"room":{"timeline":{"limit":-1}}}', token=a_tok
    )
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")


async def test_account_data_global_and_per_room(client: Client) -> None:
    alice, a_tok = await register(client, "alice")
    room = await create_room(client, a_tok)
    since = (await sync(client, a_tok))["next_batch"]
    status, _ = await client.request(
        "PUT", f"{V3}/user/{alice}/account_data/org.example.g", {"x": 1}, token=a_tok
    )
    assert status == 200
    status, _ = await client.request(
        "PUT", f"{V3}/user/{alice}/rooms/{room}/account_data/org.example.r", {"y": 2}, token=a_tok
    )
    assert status == 200
    body = await sync(client, a_tok, since=since)
    assert body["account_data"]["events"] == [{"type": "org.example.g", "content": {"x": 1}}]
    r = body["rooms"]["join"][room]
    assert r["account_data"]["events"] == [{"type": "org.example.r", "content": {"y": 2}}]
    assert r["timeline"]["events"] == []
    initial = await sync(client, a_tok, filter={"account_data": {"not_types": ["org.example.g"]}})
    assert all(e["type"] != "org.example.g" for e in initial["account_data"]["events"])
    later = await sync(client, a_tok, since=body["next_batch"])
    assert later["account_data"]["events"] == [] and later["rooms"]["join"] == {}


async def test_to_device_delivered_once_and_idempotent(client: Client) -> None:
    alice, a_tok = await register(client, "alice")
    bob = await client.register("bob")
    b_tok, b_dev = bob["access_token"], bob["device_id"]
    first = await sync(client, b_tok)
    url = f"{V3}/sendToDevice/m.test/txn1"
    msg = {"messages": {bob["user_id"]: {b_dev: {"n": 1}}}}
    for _ in range(2):  # the same transaction id twice sends once
        status, body = await client.request("PUT", url, msg, token=a_tok)
        assert (status, body) == (200, {})
    status, _ = await client.request(
        "PUT",
        f"{V3}/sendToDevice/m.test/txn2",
        {"messages": {bob["user_id"]: {"*": {"n": 2}}}},
        token=a_tok,
    )
    assert status == 200
    got = await sync(client, b_tok, since=first["next_batch"])
    events = got["to_device"]["events"]
    assert events == [
        {"sender": alice, "type": "m.test", "content": {"n": 1}},
        {"sender": alice, "type": "m.test", "content": {"n": 2}},
    ]
    # not acknowledged yet: syncing again from the same token delivers them again
    repeat = await sync(client, b_tok, since=first["next_batch"])
    assert repeat["to_device"]["events"] == events
    # acknowledged by syncing with next_batch: gone for good
    after = await sync(client, b_tok, since=got["next_batch"])
    assert after["to_device"]["events"] == []
    again = await sync(client, b_tok, since=first["next_batch"])
    assert again["to_device"]["events"] == []
    store = client.server.to_device
    assert await store.pending(bob["user_id"], b_dev, 0, 2**62) == []
    status, body = await client.request(
        "PUT", f"{V3}/sendToDevice/m.test/t3", {"messages": {"@x:test.local": 5}}, token=a_tok
    )
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")


async def test_ignored_users_and_redactions(client: Client) -> None:
    alice, a_tok, bob, b_tok, room = await two_in_room(client)
    await set_ignored(client, a_tok, alice, [bob])
    await send(client, b_tok, room, "ignore me")
    await send(client, a_tok, room, "mine")
    body = await sync(client, a_tok)
    r = body["rooms"]["join"][room]
    assert timeline_bodies(r) == ["mine"]
    # state events of ignored users are still sent (bob's join)
    bob_state = [e for e in r["timeline"]["events"] + r["state"]["events"] if e["sender"] == bob]
    assert [e["type"] for e in bob_state] == ["m.room.member"]
    page = await messages(client, a_tok, room, dir="b", limit=50)
    assert [e["content"].get("body") for e in page["chunk"] if e["type"] == "m.room.message"] == [
        "mine"
    ]
    other = await create_room(client, b_tok)
    await invite(client, b_tok, other, alice)
    assert other not in (await sync(client, a_tok))["rooms"]["invite"]

    await set_ignored(client, a_tok, alice, [])  # un-ignoring applies at once
    assert other in (await sync(client, a_tok))["rooms"]["invite"]

    # redactions: the redacted event is shown redacted, with its redaction
    since = (await sync(client, a_tok))["next_batch"]
    target = await send(client, a_tok, room, "secret")
    status, red = await client.request(
        "PUT", f"{V3}/rooms/{room}/redact/{target}/r1", {"reason": "oops"}, token=a_tok
    )
    assert status == 200, red
    body = await sync(client, a_tok, since=since)
    events = body["rooms"]["join"][room]["timeline"]["events"]
    shown = next(e for e in events if e["event_id"] == target)
    assert shown["content"] == {}
    assert shown["unsigned"]["redacted_because"]["event_id"] == red["event_id"]
    assert events[-1]["type"] == "m.room.redaction"
    page = await messages(client, a_tok, room, dir="b", limit=5)
    assert next(e for e in page["chunk"] if e["event_id"] == target)["content"] == {}


async def test_knock_appears_in_rooms_knock(client: Client) -> None:
    _, a_tok = await register(client, "alice")
    bob, b_tok = await register(client, "bob")
    room = await create_room(
        client,
        a_tok,
        name="Knock knock",
        initial_state=[{"type": "m.room.join_rules", "content": {"join_rule": "knock"}}],
    )
    since = (await sync(client, b_tok))["next_batch"]
    status, body = await client.request("POST", f"{V3}/knock/{room}", {"reason": "hi"}, token=b_tok)
    assert status == 200, body
    body = await sync(client, b_tok, since=since)
    knock_state = body["rooms"]["knock"][room]["knock_state"]["events"]
    assert {e["type"] for e in knock_state} >= {"m.room.create", "m.room.name", "m.room.join_rules"}
    own = knock_state[-1]
    assert (own["type"], own["state_key"], own["content"]["membership"]) == (
        "m.room.member",
        bob,
        "knock",
    )
    assert body["rooms"]["join"] == {} and body["rooms"]["invite"] == {}
    later = await sync(client, b_tok, since=body["next_batch"])
    assert later["rooms"]["knock"] == {}

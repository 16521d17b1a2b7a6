"""/messages and /context over real HTTP, with sync's prev_batch tokens."""

from __future__ import annotations

from urllib.parse import quote

from tests.api.conftest import Client
from tests.api.sync_helpers import (
    create_room,
    join,
    leave,
    messages,
    register,
    send,
    sync,
    timeline_bodies,
    two_in_room,
)

V3 = "/_matrix/client/v3"


async def test_prev_batch_paginates_back_to_creation(client: Client) -> None:
    _, a_tok = await register(client, "alice")
    room = await create_room(client, a_tok)
    for i in range(25):
        await send(client, a_tok, room, f"m{i}")
    body = await sync(client, a_tok, filter={"room": {"timeline": {"limit": 5}}})
    r = body["rooms"]["join"][room]
    assert r["timeline"]["limited"] and timeline_bodies(r) == [f"m{i}" for i in range(20, 25)]
    seen: list[dict[str, object]] = []
    token = r["timeline"]["prev_batch"]
    pages = 0
    while token is not None:
        page = await messages(client, a_tok, room, dir="b", limit=7, **{"from": token})
        assert page["start"] == token
        seen.extend(page["chunk"])
        token = page.get("end")
        pages += 1
        assert pages < 20
    bodies = [e["content"].get("body") for e in seen if e["type"] == "m.room.message"]
    assert bodies == [f"m{i}" for i in range(19, -1, -1)]
    assert seen[-1]["type"] == "m.room.create"
    ids = [e["event_id"] for e in seen]
    assert len(ids) == len(set(ids))
    assert not set(ids) & {e["event_id"] for e in r["timeline"]["events"]}


async def test_prev_batch_before_the_create_event_pages_nothing(client: Client) -> None:
    """A timeline that starts at the create event has nothing earlier: its prev_batch
    gives an empty page without ``end``, and a client paginating without ``from`` gets
    the latest page, ending at the create event (no ``end`` either)."""
    _, a_tok = await register(client, "alice")
    room = await create_room(client, a_tok)
    await send(client, a_tok, room, "only")
    r = (await sync(client, a_tok))["rooms"]["join"][room]
    assert not r["timeline"]["limited"]
    assert r["timeline"]["events"][0]["type"] == "m.room.create"
    empty = await messages(client, a_tok, room, dir="b", **{"from": r["timeline"]["prev_batch"]})
    assert empty["chunk"] == [] and "end" not in empty
    latest = await messages(client, a_tok, room, dir="b", **{"from": ""})
    assert latest["chunk"][0]["content"]["body"] == "only"
    assert latest["chunk"][-1]["type"] == "m.room.create" and "end" not in latest
    limited = await sync(client, a_tok, filter={"room": {"timeline": {"limit": 1}}})
    assert "prev_batch" in limited["rooms"]["join"][room]["timeline"]


async def test_gap_is_filled_forwards_between_since_and_prev_batch(client: Client) -> None:
    _, a_tok = await register(client, "alice")
    room = await create_room(client, a_tok)
    since = (await sync(client, a_tok))["next_batch"]
    for i in range(8):
        await send(client, a_tok, room, f"g{i}")
    body = await sync(client, a_tok, since=since, filter={"room": {"timeline": {"limit": 3}}})
    r = body["rooms"]["join"][room]
    assert r["timeline"]["limited"] and timeline_bodies(r) == ["g5", "g6", "g7"]
    gap = await messages(
        client, a_tok, room, dir="f", limit=50, to=r["timeline"]["prev_batch"], **{"from": since}
    )
    assert [e["content"]["body"] for e in gap["chunk"]] == [f"g{i}" for i in range(5)]
    assert "end" not in gap


async def test_messages_defaults_filters_and_lazy_members(client: Client) -> None:
    alice, a_tok, bob, b_tok, room = await two_in_room(client)
    await send(client, a_tok, room, "a1")
    await send(client, b_tok, room, "b1")
    await send(client, a_tok, room, "a2")
    latest = await messages(client, a_tok, room, dir="b", limit=2)
    assert [e["content"]["body"] for e in latest["chunk"]] == ["a2", "b1"]
    assert "state" not in latest
    oldest = await messages(client, a_tok, room, dir="f", limit=1)
    assert oldest["chunk"][0]["type"] == "m.room.create"
    only_bob = await messages(
        client,
        a_tok,
        room,
        dir="b",
        filter={"types": ["m.room.mess*"], "not_senders": [alice], "lazy_load_members": True},
    )
    assert [e["content"]["body"] for e in only_bob["chunk"]] == ["b1"]
    assert [(e["type"], e["state_key"]) for e in only_bob["state"]] == [("m.room.member", bob)]
    assert only_bob["chunk"][0]["room_id"] == room
    # errors
    for params, code in (
        ({}, "M_MISSING_PARAM"),
        ({"dir": "x"}, "M_INVALID_PARAM"),
        ({"dir": "b", "from": "zz"}, "M_INVALID_PARAM"),
        ({"dir": "b", "limit": "many"}, "M_INVALID_PARAM"),
        ({"dir": "b", "filter": "{nope"}, "M_NOT_JSON"),
    ):
        body = await messages(client, a_tok, room, expect=400, **params)
        assert body["errcode"] == code, params
    _, c_tok = await register(client, "carol")
    body = await messages(client, c_tok, room, expect=403, dir="b")
    assert body["errcode"] == "M_FORBIDDEN"
    body = await messages(client, c_tok, "!unknown:test.local", expect=403, dir="b")
    assert body["errcode"] == "M_FORBIDDEN"


async def test_history_visibility_joined_hides_earlier_events(client: Client) -> None:
    _, a_tok = await register(client, "alice")
    _, b_tok = await register(client, "bob")
    room = await create_room(
        client,
        a_tok,
        preset="public_chat",
        initial_state=[
            {"type": "m.room.history_visibility", "content": {"history_visibility": "joined"}}
        ],
    )
    await send(client, a_tok, room, "before bob")
    await join(client, b_tok, room)
    await send(client, a_tok, room, "with bob")
    await leave(client, b_tok, room)
    await send(client, a_tok, room, "after bob")
    page = await messages(client, b_tok, room, dir="b", limit=50)
    bodies = [e["content"].get("body") for e in page["chunk"] if e["type"] == "m.room.message"]
    assert bodies == ["with bob"]
    synced = await sync(client, b_tok, filter={"room": {"include_leave": True}})
    left = synced["rooms"]["leave"][room]
    assert timeline_bodies(left) == ["with bob"]
    assert left["timeline"]["events"][-1]["content"]["membership"] == "leave"


async def test_context(client: Client) -> None:
    _, a_tok = await register(client, "alice")
    room = await create_room(client, a_tok)
    ids = [await send(client, a_tok, room, f"c{i}") for i in range(10)]
    url = f"{V3}/rooms/{quote(room)}/context/{quote(ids[5])}?limit=4"
    status, body = await client.request("GET", url, token=a_tok)
    assert status == 200, body
    assert body["event"]["event_id"] == ids[5]
    assert [e["content"]["body"] for e in body["events_before"]] == ["c4", "c3"]
    assert [e["content"]["body"] for e in body["events_after"]] == ["c6", "c7"]
    assert any(e["type"] == "m.room.create" for e in body["state"])
    after = await messages(client, a_tok, room, dir="f", limit=1, **{"from": body["end"]})
    assert after["chunk"][0]["content"]["body"] == "c8"
    before = await messages(client, a_tok, room, dir="b", limit=1, **{"from": body["start"]})
    assert before["chunk"][0]["content"]["body"] == "c2"
    flt = quote('{"types":["m.room.member"]}')
    status, body = await client.request(
        "GET", f"{V3}/rooms/{quote(room)}/context/{quote(ids[5])}?filter={flt}", token=a_tok
    )
    assert status == 200 and body["events_before"] and body["events_after"] == []
    assert {e["type"] for e in body["events_before"]} == {"m.room.member"}
    assert {e["type"] for e in body["state"]} == {"m.room.member"}
    _, c_tok = await register(client, "carol")
    status, body = await client.request(
        "GET", f"{V3}/rooms/{quote(room)}/context/{quote(ids[5])}", token=c_tok
    )
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")  # not in the room, as /messages
    status, body = await client.request(
        "GET", f"{V3}/rooms/{quote(room)}/context/{quote('$nope')}", token=a_tok
    )
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")

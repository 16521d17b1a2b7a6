"""``GET /v1/rooms/{roomId}/timestamp_to_event`` over HTTP on SQLite and PostgreSQL
(client-server-api room_event_by_timestamp.yaml): both directions, the event at the
timestamp itself, nothing found, parameter errors, history visibility, world-readable
rooms and forgotten rooms."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.test_directory_fixtures import V1, V3, Hs, hs  # noqa: F401


async def lookup(h: Hs, token: str, room: str, query: str) -> tuple[int, Any]:
    return await h.request("GET", f"{V1}/rooms/{room}/timestamp_to_event?{query}", token=token)


async def sent_at(
    h: Hs, token: str, room: str, n: int, prefix: str = "ts"
) -> list[tuple[str, int]]:
    """Send ``n`` messages with distinct timestamps; return ``(event_id, ts)`` of each."""
    out: list[tuple[str, int]] = []
    for i in range(n):
        sent = await h.ok(
            "PUT",
            f"{V3}/rooms/{room}/send/m.room.message/{prefix}{i}",
            {"body": str(i)},
            token=token,
        )
        ev = await h.ok("GET", f"{V3}/rooms/{room}/event/{sent['event_id']}", token=token)
        out.append((sent["event_id"], int(ev["origin_server_ts"])))
        await asyncio.sleep(0.005)  # the next event gets a later millisecond
    return out


async def test_both_directions(hs: Hs) -> None:  # noqa: F811
    _, a = await hs.user("alice")
    room = await hs.create_room(a, preset="private_chat")
    events = await sent_at(hs, a, room, 4)
    stamps = [ts for _, ts in events]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4, stamps
    ids = [e for e, _ in events]
    for i, ts in enumerate(stamps):
        # the event at ts is the answer in both directions
        for d in ("f", "b"):
            status, body = await lookup(hs, a, room, f"ts={ts}&dir={d}")
            assert (status, body) == (200, {"event_id": ids[i], "origin_server_ts": ts})
    # between two events: forwards the later, backwards the earlier (if a gap exists)
    if stamps[2] - stamps[1] > 1:
        mid = stamps[1] + 1
        assert (await lookup(hs, a, room, f"ts={mid}&dir=f"))[1]["event_id"] == ids[2]
        assert (await lookup(hs, a, room, f"ts={mid}&dir=b"))[1]["event_id"] == ids[1]
    # past the last event forwards: nothing
    status, body = await lookup(hs, a, room, f"ts={stamps[-1] + 1}&dir=f")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    # before the room existed backwards: nothing; forwards: the create event
    status, body = await lookup(hs, a, room, "ts=0&dir=b")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await lookup(hs, a, room, "ts=0&dir=f")
    assert status == 200
    create = await hs.ok("GET", f"{V3}/rooms/{room}/event/{body['event_id']}", token=a)
    assert create["type"] == "m.room.create"
    # far in the future backwards: the newest event; huge values are clamped, not 500
    status, body = await lookup(hs, a, room, f"ts={2**63 + 5}&dir=b")
    assert (status, body["event_id"]) == (200, ids[-1])


async def test_parameter_errors(hs: Hs) -> None:  # noqa: F811
    _, a = await hs.user("alice")
    room = await hs.create_room(a)
    for query, code in (
        ("dir=f", "M_MISSING_PARAM"),
        ("ts=5", "M_MISSING_PARAM"),
        ("ts=5&dir=x", "M_INVALID_PARAM"),
        ("ts=abc&dir=f", "M_INVALID_PARAM"),
    ):
        status, body = await lookup(hs, a, room, query)
        assert (status, body["errcode"]) == (400, code), query
    status, body = await hs.request(
        "GET", f"{V1}/rooms/{room}/timestamp_to_event?ts=1&dir=f", token=None
    )
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")


async def test_visibility_access_and_forgotten(hs: Hs) -> None:  # noqa: F811
    _, a = await hs.user("alice")
    bob, b = await hs.user("bob")
    room = await hs.create_room(a, preset="public_chat")
    await hs.put_state(a, room, "m.room.history_visibility", {"history_visibility": "joined"})
    early = await sent_at(hs, a, room, 2)
    # a user who was never in the room: 403, unknown rooms look the same
    assert await hs.err("GET", f"{V1}/rooms/{room}/timestamp_to_event?ts=0&dir=f", token=b) == (
        403,
        "M_FORBIDDEN",
    )
    assert await hs.err(
        "GET", f"{V1}/rooms/!nope:test.local/timestamp_to_event?ts=0&dir=f", token=b
    ) == (403, "M_FORBIDDEN")
    await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=b)
    # messages from before bob joined are invisible to him: skipped, not answered; the
    # newest visible one is the change to "joined" (visible under the "shared" before it)
    status, body = await lookup(hs, b, room, f"ts={early[-1][1]}&dir=b")
    assert status == 200
    found = await hs.ok("GET", f"{V3}/rooms/{room}/event/{body['event_id']}", token=b)
    assert found["type"] == "m.room.history_visibility"
    assert await hs.err("GET", f"{V3}/rooms/{room}/event/{early[-1][0]}", token=b) == (
        404,
        "M_NOT_FOUND",
    )
    status, body = await lookup(hs, b, room, f"ts={early[0][1]}&dir=f")
    assert status == 200
    first = await hs.ok("GET", f"{V3}/rooms/{room}/event/{body['event_id']}", token=b)
    assert (first["type"], first["state_key"]) == ("m.room.member", bob)
    # alice sees it all
    status, body = await lookup(hs, a, room, f"ts={early[0][1]}&dir=f")
    assert (status, body["event_id"]) == (200, early[0][0])
    # after leaving, bob still finds what he saw; after forgetting, nothing
    later = await sent_at(hs, a, room, 1, "later")
    await hs.ok("POST", f"{V3}/rooms/{room}/leave", {}, token=b)
    status, body = await lookup(hs, b, room, f"ts={later[0][1]}&dir=b")
    assert (status, body["event_id"]) == (200, later[0][0])
    await hs.ok("POST", f"{V3}/rooms/{room}/forget", {}, token=b)
    assert await hs.err(
        "GET", f"{V1}/rooms/{room}/timestamp_to_event?ts={later[0][1]}&dir=b", token=b
    ) == (403, "M_FORBIDDEN")
    # world_readable: anyone may ask (carol never joined)
    _, c = await hs.user("carol")
    await hs.put_state(
        a, room, "m.room.history_visibility", {"history_visibility": "world_readable"}
    )
    status, body = await lookup(hs, c, room, "ts=0&dir=f")
    assert status == 200 and body["event_id"].startswith("$")

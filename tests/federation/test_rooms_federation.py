"""Two real ranvier servers on loopback HTTPS sharing rooms: joins over federation
(make_join/send_join v2), messages both ways through ``PUT /send``, the served room
data endpoints, and the outbound queue surviving restarts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ranvier.core.builder import build_event, select_auth_events
from ranvier.core.signing import generate_signing_key
from ranvier.federation.client import RemoteError, path_segment
from ranvier.http.types import MatrixError
from ranvier.rooms.remote import MISSING_LIMIT
from tests.federation.helpers import (
    craft,
    eventually,
    has_event,
    room_state,
    send_txn,
    shared_room,
    start_two,
    stored,
)
from tests.federation.peers import Peer, start_peer


async def test_join_and_messages_both_ways(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    room_id, alice, bob = await shared_room(a, b)
    # B holds the room with A's state; both see bob joined.
    assert await b.hs.rooms.joined_rooms(bob) == [room_id]
    members = await a.hs.rooms.joined_members(room_id, alice)
    assert set(members) == {alice, bob}
    assert set(await b.hs.rooms.joined_members(room_id, bob)) == {alice, bob}
    state_b = {(e["type"], e["state_key"]) for e in await b.hs.rooms.get_state(room_id, bob)}
    assert ("m.room.name", "") in state_b and ("m.room.power_levels", "") in state_b

    to_b = await a.hs.rooms.send_event(room_id, alice, "m.room.message", {"body": "hi bob"})
    await eventually(lambda: has_event(b, to_b))
    got = await b.hs.rooms.get_event(room_id, to_b, bob)
    assert got["content"] == {"body": "hi bob"} and got["sender"] == alice

    to_a = await b.hs.rooms.send_event(room_id, bob, "m.room.message", {"body": "hi alice"})
    await eventually(lambda: has_event(a, to_a))
    got = await a.hs.rooms.get_event(room_id, to_a, alice)
    assert got["content"] == {"body": "hi alice"} and got["sender"] == bob

    # State changes flow too, and both servers agree on the current state.
    await a.hs.rooms.set_state(room_id, alice, "m.room.name", "", {"name": "Renamed"})
    await eventually(
        lambda: _name_is(b, room_id, bob, "Renamed"),
    )


async def _name_is(peer: Peer, room_id: str, user: str, name: str) -> bool:
    try:
        content = await peer.hs.rooms.get_state_content(room_id, user, "m.room.name", "")
    except Exception:
        return False
    return content.get("name") == name


# ---- crafted PDUs from B, sent straight to A's /send ----------------------------------


async def test_bad_pdus_dropped_redacted_rejected(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    room_id, alice, bob = await shared_room(a, b)

    # A forged signature (a key B never published, under B's key id): dropped.
    forger = generate_signing_key(b.key.version)
    forged = await craft(a, b, room_id, bob, "m.room.message", {"body": "x"}, key=forger)
    # A wrong content hash: the body was changed after signing; redacted, then accepted.
    honest = await craft(a, b, room_id, bob, "m.room.message", {"body": "original"})
    tampered = dict(honest.pdu)
    tampered["content"] = {"body": "changed"}
    answer = await send_txn(b, a, "t1", [forged.pdu, tampered])
    assert "error" in answer["pdus"][forged.event_id]
    assert "signature" in answer["pdus"][forged.event_id]["error"]
    assert await stored(a, forged.event_id) is None
    assert answer["pdus"][honest.event_id] == {}
    kept = await stored(a, honest.event_id)
    assert kept is not None and kept.event.content == {} and not kept.rejected

    # bob (power 0) changing the power levels fails the auth rules: rejected, not served.
    pl = (await room_state(a, room_id))[("m.room.power_levels", "")]
    grab = dict(pl.content)
    grab["users"] = {**grab.get("users", {}), bob: 100}
    bad = await craft(a, b, room_id, bob, "m.room.power_levels", grab, state_key="")
    answer = await send_txn(b, a, "t2", [bad.pdu])
    # Rejected is still processed: no "error" in the result (transactions.yaml).
    assert answer["pdus"][bad.event_id] == {}
    rejected = await stored(a, bad.event_id)
    assert rejected is not None and rejected.rejected
    assert (await room_state(a, room_id))[("m.room.power_levels", "")].event_id == pl.event_id
    with pytest.raises(RemoteError) as err:
        await b.hs.federation.client.get_json(
            a.name, f"/_matrix/federation/v1/event/{path_segment(bad.event_id)}"
        )
    assert err.value.status == 404
    with pytest.raises(MatrixError):
        await a.hs.rooms.get_event(room_id, bad.event_id, alice)
    # A later event built on the rejected one is still accepted (spec "Rejection").
    after = await craft(a, b, room_id, bob, "m.room.message", {"body": "on"}, prev=[bad])
    assert (await send_txn(b, a, "t3", [after.pdu]))["pdus"] == {after.event_id: {}}
    counts = a.hs.federation_rooms.remote.counts if a.hs.federation_rooms else {}
    assert counts.get("dropped") == 1 and counts.get("rejected") == 1


async def test_transaction_rules(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    room_id, _, bob = await shared_room(a, b)
    first = await craft(a, b, room_id, bob, "m.room.message", {"body": "1"})
    answer = await send_txn(b, a, "same", [first.pdu])
    assert answer == {"pdus": {first.event_id: {}}}
    # The same transaction id again answers the stored response, processing nothing new.
    second = await craft(a, b, room_id, bob, "m.room.message", {"body": "2"})
    assert await send_txn(b, a, "same", [second.pdu]) == answer
    assert await stored(a, second.event_id) is None
    # At most 50 PDUs, 100 EDUs.
    with pytest.raises(RemoteError) as err:
        await send_txn(b, a, "big", [first.pdu] * 51)
    assert err.value.status == 400
    with pytest.raises(RemoteError) as err:
        await send_txn(b, a, "edus", [], edus=[{"edu_type": "x", "content": {}}] * 101)
    assert err.value.status == 400
    # The body's origin must be the authenticated server.
    with pytest.raises(RemoteError) as err:
        await b.hs.federation.client.put_json(
            a.name, "/_matrix/federation/v1/send/o", {"origin": "evil.example", "pdus": []}
        )
    assert err.value.status == 403
    # PDUs of rooms A is not in get an error entry; EDUs reach registered handlers.
    seen: list[tuple[str, dict[str, Any]]] = []

    async def handler(origin: str, content: dict[str, Any]) -> None:
        seen.append((origin, content))

    assert a.hs.federation_rooms is not None
    a.hs.federation_rooms.edus.register_edu_handler("org.example.ping", handler)
    stray = dict(first.pdu, room_id="!nowhere:elsewhere.example")
    answer = await send_txn(
        b, a, "mixed", [stray], edus=[{"edu_type": "org.example.ping", "content": {"n": 1}}]
    )
    assert [v for v in answer["pdus"].values()] == [{"error": "this server is not in the room"}]
    assert seen == [(b.name, {"n": 1})]


async def test_soft_failed_event(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    room_id, alice, _ = await shared_room(a, b)
    # carol@B joins too; then alice bans carol. carol's server later sends an event
    # built before the ban: it passes at its own state, fails at the current one.
    carol = f"@carol:{b.name}"
    await b.hs.accounts.create_account(carol, "pw")
    await b.hs.membership.join(room_id, carol, servers=[a.name])

    async def carol_joined() -> bool:
        return carol in await a.hs.rooms.joined_members(room_id, alice)

    await eventually(carol_joined)  # B was in the room: a local join, sent by /send
    storage = a.hs.room_storage
    room = await storage.events.get_room(room_id)
    assert room is not None
    before_ban = [
        s.event
        for s in (
            await storage.events.get_by_nids(await storage.events.forward_extremities(room.nid))
        ).values()
    ]
    state_before_ban = await room_state(a, room_id)
    await a.hs.membership.ban(room_id, alice, carol)
    content = {"body": "evading the ban"}
    evading = build_event(
        room_version=room.room_version,
        room_id=room_id,
        sender=carol,
        event_type="m.room.message",
        content=content,
        prev_events=before_ban,
        auth_events=select_auth_events(
            room.room_version, "m.room.message", None, carol, content, state_before_ban
        ),
        origin=b.name,
        signing_key=b.key,
    )
    answer = await send_txn(b, a, "soft", [evading.pdu])
    assert answer == {"pdus": {evading.event_id: {}}}
    kept = await stored(a, evading.event_id)
    assert kept is not None and kept.soft_failed and not kept.rejected
    assert kept.nid not in await storage.events.forward_extremities(room.nid)
    assert a.hs.federation_rooms is not None
    assert a.hs.federation_rooms.remote.counts.get("soft_failed") == 1


async def test_gap_fetched_with_get_missing_events(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    room_id, _, bob = await shared_room(a, b)
    fed_b = b.hs.federation_rooms
    fed_a = a.hs.federation_rooms
    assert fed_a is not None and fed_b is not None
    # B sends three messages while its sender is stopped, then queues only the last:
    # A sees an event whose prev events it lacks and asks B for them.
    await b.hs.bus.close()  # deliver what the bus holds before stopping the sender
    await fed_b.sender.stop()
    ids = [
        await b.hs.rooms.send_event(room_id, bob, "m.room.message", {"body": f"m{i}"})
        for i in range(3)
    ]
    last = await stored(b, ids[-1])
    assert last is not None
    await fed_b.sender.start(b.hs.bus)
    await fed_b.sender.queue_pdu([a.name], last.event.pdu)
    await eventually(lambda: has_event(a, ids[-1]))
    for event_id in ids:
        assert await has_event(a, event_id)
    assert fed_a.source.requests.get("get_missing_events") == 1
    assert "state_ids" not in fed_a.source.requests


async def test_served_room_data(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a = await start_peer(tmp_path / "a", database=databases["a"])
    b = await start_peer(tmp_path / "b", database=databases["b"])
    c = await start_peer(tmp_path / "c", database=databases["c"])
    peers += [a, b, c]
    room_id, alice, bob = await shared_room(a, b)
    sent = [
        await a.hs.rooms.send_event(room_id, alice, "m.room.message", {"body": f"s{i}"})
        for i in range(5)
    ]
    client = b.hs.federation.client
    v1 = "/_matrix/federation/v1"
    rid = path_segment(room_id)
    ids = await client.get_json(a.name, f"{v1}/state_ids/{rid}", {"event_id": sent[-1]})
    state = await room_state(a, room_id)
    assert set(ids["pdu_ids"]) == {e.event_id for e in state.values()}
    assert state[("m.room.create", "")].event_id in ids["auth_chain_ids"]
    full = await client.get_json(a.name, f"{v1}/state/{rid}", {"event_id": sent[-1]})
    assert sorted(p["type"] for p in full["pdus"]) == sorted(k[0] for k in state)
    auth = await client.get_json(a.name, f"{v1}/event_auth/{rid}/{path_segment(sent[0])}")
    types = {p["type"] for p in auth["auth_chain"]}
    assert {"m.room.create", "m.room.power_levels", "m.room.member"} <= types
    back = await client.get_json(a.name, f"{v1}/backfill/{rid}", {"v": [sent[-1]], "limit": 3})
    assert [p["content"].get("body") for p in back["pdus"]] == ["s4", "s3", "s2"]
    missing = await client.post_json(
        a.name,
        f"{v1}/get_missing_events/{rid}",
        {"earliest_events": [sent[0]], "latest_events": [sent[-1]], "limit": 10},
    )
    assert [p["content"]["body"] for p in missing["events"]] == ["s1", "s2", "s3"]
    # A server with nobody in the room is refused.
    for path, query in (
        (f"{v1}/state_ids/{rid}", {"event_id": sent[-1]}),
        (f"{v1}/backfill/{rid}", {"v": [sent[-1]], "limit": 3}),
    ):
        with pytest.raises(RemoteError) as err:
            await c.hs.federation.client.get_json(a.name, path, query)
        assert err.value.status == 403
    with pytest.raises(RemoteError) as err:
        await c.hs.federation.client.get_json(a.name, f"{v1}/event/{path_segment(sent[0])}")
    assert err.value.status == 404
    # A server ACL denying B: B is refused even though it is in the room.
    await a.hs.rooms.set_state(
        room_id,
        alice,
        "m.room.server_acl",
        "",
        {"allow": ["*"], "deny": ["127.0.0.1"], "allow_ip_literals": True},
    )
    with pytest.raises(RemoteError) as err:
        await client.get_json(a.name, f"{v1}/state_ids/{rid}", {"event_id": sent[-1]})
    assert (err.value.status, err.value.errcode) == (403, "M_FORBIDDEN")
    denied = await craft(a, b, room_id, bob, "m.room.message", {"body": "denied"})
    answer = await send_txn(b, a, "acl", [denied.pdu])
    assert "ACL" in answer["pdus"][denied.event_id]["error"]


async def test_outbound_queue_survives_restarts(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    room_id, alice, _ = await shared_room(a, b)
    fed_a = a.hs.federation_rooms
    assert fed_a is not None
    fed_a.sender.backoff_base_s = 0.05
    # B goes down; A queues its messages (sending fails, rows stay).
    await b.stop()
    peers.remove(b)
    ids = [
        await a.hs.rooms.send_event(room_id, alice, "m.room.message", {"body": f"q{i}"})
        for i in range(60)
    ]

    async def queued() -> bool:
        return await fed_a.sender.pending(b.name) == 60

    await eventually(queued)
    # A restarts too: the queue is in its database.
    await a.stop()
    peers.remove(a)
    b = await start_peer(b.directory, port=b.port, database=databases["b"])
    peers.append(b)
    a = await start_peer(a.directory, port=a.port, database=databases["a"])
    peers.append(a)
    for event_id in ids:
        await eventually(lambda eid=event_id: has_event(b, eid))  # type: ignore[misc]
    fed_a = a.hs.federation_rooms
    assert fed_a is not None

    async def sent() -> bool:
        # B holds the events before A hears its answer and deletes the rows.
        return await fed_a.sender.pending(b.name) == 0

    await eventually(sent)
    assert fed_a.sender.sent_transactions == 2  # 60 PDUs: 50 + 10


async def test_sender_woken_when_destination_contacts_us(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    room_id, alice, _ = await shared_room(a, b)
    fed_a = a.hs.federation_rooms
    assert fed_a is not None
    fed_a.sender.backoff_base_s = 600.0  # without a wake-up, no retry within the test
    await b.stop()
    peers.remove(b)
    event_id = await a.hs.rooms.send_event(room_id, alice, "m.room.message", {"body": "w"})

    async def failed_once() -> bool:
        dest = fed_a.sender._dests.get(b.name)
        return dest is not None and dest.failures >= 1

    await eventually(failed_once)
    b = await start_peer(b.directory, port=b.port, database=databases["b"])
    peers.append(b)
    assert not await has_event(b, event_id)
    # B contacts A (any signed request): A retries at once.
    await b.hs.federation.client.get_json(
        a.name, "/_matrix/federation/v1/query/profile", {"user_id": alice}
    )
    await eventually(lambda: has_event(b, event_id), timeout=10)


async def test_concurrent_state_resolved_identically(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    room_id, alice, bob = await shared_room(a, b)
    pl = (await room_state(a, room_id))[("m.room.power_levels", "")]
    await a.hs.rooms.set_state(
        room_id,
        alice,
        "m.room.power_levels",
        "",
        {**pl.content, "users": {**pl.content.get("users", {}), bob: 50}},
    )

    async def b_has_power() -> bool:
        levels = (await room_state(b, room_id))[("m.room.power_levels", "")]
        return levels.content.get("users", {}).get(bob) == 50

    await eventually(b_has_power)
    fed_a, fed_b = a.hs.federation_rooms, b.hs.federation_rooms
    assert fed_a is not None and fed_b is not None
    # Both servers change the topic while neither hears the other: the DAG forks.
    await fed_a.sender.stop()
    await fed_b.sender.stop()
    t_a = await a.hs.rooms.set_state(room_id, alice, "m.room.topic", "", {"topic": "from A"})
    t_b = await b.hs.rooms.set_state(room_id, bob, "m.room.topic", "", {"topic": "from B"})
    await fed_a.sender.start(a.hs.bus)
    await fed_b.sender.start(b.hs.bus)
    pdu_a, pdu_b = await stored(a, t_a), await stored(b, t_b)
    assert pdu_a is not None and pdu_b is not None
    await fed_a.sender.queue_pdu([b.name], pdu_a.event.pdu)
    await fed_b.sender.queue_pdu([a.name], pdu_b.event.pdu)
    await eventually(lambda: has_event(a, t_b))
    await eventually(lambda: has_event(b, t_a))

    async def ids(peer: Peer) -> dict[tuple[str, str], str]:
        return {k: e.event_id for k, e in (await room_state(peer, room_id)).items()}

    assert await ids(a) == await ids(b)
    # The next event merges the fork (two prev events) and both servers agree again.
    merged = await a.hs.rooms.send_event(room_id, alice, "m.room.message", {"body": "merge"})
    merged_event = await stored(a, merged)
    assert merged_event is not None and set(merged_event.event.prev_event_ids) == {t_a, t_b}
    await eventually(lambda: has_event(b, merged))
    assert await ids(a) == await ids(b)


async def _client(
    peer: Peer, method: str, path: str, token: str | None = None, body: Any = None
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, peer.base + path, json=body, headers=headers, ssl=False) as resp,
    ):
        data = await resp.json(content_type=None)
        assert resp.status == 200, data
        return data


async def test_client_join_via_and_sync(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    """A v12 room (no server in its id) joined with ``?via=``; messages of the other
    server's user show in /sync."""
    a, b = await start_two(tmp_path, peers, databases)
    alice, bob = f"@alice:{a.name}", f"@bob:{b.name}"
    await a.hs.accounts.create_account(alice, "pw")
    await b.hs.accounts.create_account(bob, "pw")
    room_id = await a.hs.rooms.create_room(alice, preset="public_chat", room_version="12")
    assert ":" not in room_id
    login = await _client(
        b,
        "POST",
        "/_matrix/client/v3/login",
        body={
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": "bob"},
            "password": "pw",
        },
    )
    token = login["access_token"]
    joined = await _client(
        b, "POST", f"/_matrix/client/v3/join/{path_segment(room_id)}?via={a.name}", token, {}
    )
    assert joined == {"room_id": room_id}
    first = await _client(b, "GET", "/_matrix/client/v3/sync", token)
    assert room_id in first["rooms"]["join"]
    event_id = await a.hs.rooms.send_event(room_id, alice, "m.room.message", {"body": "yo"})
    since = first["next_batch"]

    async def synced() -> bool:
        nonlocal since
        got = await _client(b, "GET", f"/_matrix/client/v3/sync?since={since}&timeout=500", token)
        since = got["next_batch"]
        timeline = got.get("rooms", {}).get("join", {}).get(room_id, {}).get("timeline", {})
        return any(e["event_id"] == event_id for e in timeline.get("events", []))

    await eventually(synced)


async def test_gap_beyond_missing_events_uses_state_ids(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    room_id, alice, bob = await shared_room(a, b)
    fed_a, fed_b = a.hs.federation_rooms, b.hs.federation_rooms
    assert fed_a is not None and fed_b is not None
    await b.hs.bus.close()
    await fed_b.sender.stop()
    ids = [
        await b.hs.rooms.send_event(room_id, bob, "m.room.message", {"body": f"g{i}"})
        for i in range(MISSING_LIMIT + 5)
    ]
    last = await stored(b, ids[-1])
    assert last is not None
    await fed_b.sender.start(b.hs.bus)
    await fed_b.sender.queue_pdu([a.name], last.event.pdu)
    await eventually(lambda: has_event(a, ids[-1]))
    # The newest MISSING_LIMIT before the last came through get_missing_events; the state
    # before the oldest of them came from /state_ids; the older messages stay unknown.
    for event_id in ids[-MISSING_LIMIT - 1 :]:
        assert await has_event(a, event_id)
    assert not await has_event(a, ids[0])
    assert fed_a.source.requests.get("get_missing_events") == 1
    assert fed_a.source.requests.get("state_ids") == 1
    # A's room still works: its next event reaches B.
    more = await a.hs.rooms.send_event(room_id, alice, "m.room.message", {"body": "after"})
    await eventually(lambda: has_event(b, more))

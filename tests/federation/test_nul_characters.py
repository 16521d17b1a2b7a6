"""PDUs and EDUs holding U+0000 from another server, on SQLite and PostgreSQL alike.

The spec lets event types, state keys and content strings hold U+0000 (only identifiers
exclude it: appendices "User Identifiers", "Event IDs"), and canonical JSON escapes it,
but PostgreSQL's ``TEXT`` cannot store it. Each PDU below is valid and authorised, so
it must be accepted -- with its exact type and state key in the room state -- on both
databases (on PostgreSQL they used to fail with "invalid byte sequence", answered as an
internal error in ``/send``); relations, thread roots and redaction targets naming no
possible event are ignored alike; lookups of ids holding NUL answer 404 instead of 500.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from ranvier.federation.client import RemoteError, path_segment
from tests.federation.helpers import (
    call,
    craft,
    eventually,
    has_event,
    login,
    room_state,
    send_txn,
    start_two,
)
from tests.federation.peers import Peer


async def test_pdus_with_nul_accepted_on_both_databases(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    token = await login(a, "alice")
    alice, bob = f"@alice:{a.name}", f"@bob:{b.name}"
    room_id = await a.hs.rooms.create_room(alice, preset="public_chat", name="Nul")
    await b.hs.accounts.create_account(bob, "pw")
    await b.hs.membership.join(room_id, bob, servers=[a.name])
    pl = (await room_state(a, room_id))[("m.room.power_levels", "")].content
    await a.hs.rooms.set_state(
        room_id, alice, "m.room.power_levels", "", {**pl, "users": {**pl["users"], bob: 100}}
    )
    root = await a.hs.rooms.send_event(room_id, alice, "m.room.message", {"body": "root"})
    await eventually(lambda: has_event(b, root))

    def thread(event_id: str, rel_type: str = "m.thread") -> dict[str, Any]:
        return {"body": "t", "m.relates_to": {"rel_type": rel_type, "event_id": event_id}}

    cases: list[tuple[str, dict[str, Any], str | None]] = [
        ("m.room.message", {"body": "a\x00b"}, None),
        ("m.room.member", {"membership": "join", "displayname": "b\x00ob"}, bob),
        ("org.example.state", {"x": 1}, "k\x00"),
        ("org.example\x00message", {"x": 1}, None),
        ("org.example\x00state", {"x": 2}, "\x01k"),
        ("m.room.member", {"membership": "invite"}, f"@x\x00:{b.name}"),
        (
            "m.reaction",
            {"m.relates_to": {"rel_type": "m.annotation", "event_id": root, "key": "\x00"}},
            None,
        ),
        ("m.room.message", thread(root, "m.thread\x00"), None),
        ("m.room.message", thread("$y\x00"), None),
        ("m.room.redaction", {"redacts": "$z\x00", "reason": "r\x00"}, None),
        ("m.space.child", {"via": ["x\x00"]}, "!c\x00:x"),
    ]
    for i, (event_type, content, state_key) in enumerate(cases):
        event = await craft(a, b, room_id, bob, event_type, content, state_key=state_key)
        answer = await send_txn(b, a, f"nul{i}", [event.pdu])
        assert answer["pdus"][event.event_id] == {}, (event_type, state_key, answer)
        assert await has_event(a, event.event_id), (event_type, state_key)
    state = await room_state(a, room_id)
    assert state[("org.example.state", "k\x00")].content == {"x": 1}
    assert state[("org.example\x00state", "\x01k")].content == {"x": 2}
    assert ("m.room.member", f"@x\x00:{b.name}") in state
    status, body = await call(
        a, "GET", f"/_matrix/client/v3/rooms/{path_segment(room_id)}/state", token
    )
    assert status == 200
    assert {(e["type"], e["state_key"]) for e in body} >= {
        ("org.example.state", "k\x00"),
        ("org.example\x00state", "\x01k"),
    }
    status, body = await call(
        a, "GET", f"/_matrix/client/v3/rooms/{path_segment(room_id)}/messages?dir=b", token
    )
    assert status == 200 and any(e["type"] == "org.example\x00message" for e in body["chunk"])
    status, body = await call(a, "GET", "/_matrix/client/v3/sync", token)
    assert status == 200
    # The room goes on: A's own events are sent and reach B.
    after = await a.hs.rooms.send_event(room_id, alice, "m.room.message", {"body": "after"})
    await eventually(lambda: has_event(b, after))

    # A receipt naming an event, room or thread id with NUL is dropped (the others kept).
    receipts: list[dict[str, Any]] = [
        {room_id: {"m.read": {bob: {"event_ids": ["$e\x00"], "data": {"ts": 1}}}}},
        {room_id: {"m.read": {bob: {"event_ids": [root], "data": {"ts": 1, "thread_id": "\x00"}}}}},
        {"!r\x00:x": {"m.read": {bob: {"event_ids": [root], "data": {"ts": 1}}}}},
    ]
    fed_edus = a.hs.federation_edus
    assert fed_edus is not None
    for i, content in enumerate(receipts):
        await send_txn(
            b, a, f"receipt{i}", [], edus=[{"edu_type": "m.receipt", "content": content}]
        )
    good = {room_id: {"m.read": {bob: {"event_ids": [root], "data": {"ts": 1}}}}}
    await send_txn(b, a, "receipt-ok", [], edus=[{"edu_type": "m.receipt", "content": good}])

    async def received() -> bool:
        return fed_edus.receipts.received >= 1

    await eventually(received)
    assert fed_edus.receipts.received == 1


async def test_nul_in_path_parameters_refused(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    """``%00`` in a path parameter is 400 M_INVALID_PARAM on both databases (on
    PostgreSQL transaction ids, event types and account data types holding it were 500s,
    lookups of such event and room ids too)."""
    a, b = await start_two(tmp_path, peers, databases)
    token = await login(a, "alice")
    alice = f"@alice:{a.name}"
    room = path_segment(await a.hs.rooms.create_room(alice, preset="public_chat"))
    user = path_segment(alice)
    for method, path in [
        ("GET", f"/_matrix/client/v3/rooms/{room}/event/%24x%00"),
        ("GET", f"/_matrix/client/v3/rooms/{room}/context/%24x%00"),
        ("GET", "/_matrix/client/v3/rooms/%21x%00%3Ay/state"),
        ("GET", f"/_matrix/client/v3/user/{user}/account_data/x%00"),
        ("PUT", f"/_matrix/client/v3/user/{user}/account_data/x%00"),
        ("PUT", f"/_matrix/client/v3/rooms/{room}/send/m.room.message/t%00"),
        ("PUT", f"/_matrix/client/v3/rooms/{room}/send/x%00/t"),
        ("PUT", f"/_matrix/client/v3/rooms/{room}/state/x%00/"),
    ]:
        status, body = await call(a, method, path, token, {} if method == "PUT" else None)
        assert (status, body.get("errcode")) == (400, "M_INVALID_PARAM"), (path, body)
    with pytest.raises(RemoteError) as err:
        await b.hs.federation.client.get_json(a.name, "/_matrix/federation/v1/event/%24x%00")
    assert (err.value.status, err.value.errcode) == (400, "M_INVALID_PARAM")
    # Internal lookups of such ids (ids from request bodies, EDUs) find nothing.
    assert await a.hs.room_storage.events.get_by_id("$x\x00") is None
    assert await a.hs.room_storage.events.get_room("!x\x00:y") is None


async def test_edus_with_nul_dropped_without_errors(
    tmp_path: Path,
    peers: list[Peer],
    databases: dict[str, str | None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Device list updates and to-device messages naming a device, type or message id
    with NUL are dropped (a display name with NUL forgotten) and no handler fails; the
    well-formed ones after them are applied."""
    a, b = await start_two(tmp_path, peers, databases)
    await login(a, "alice")
    alice, bob = f"@alice:{a.name}", f"@bob:{b.name}"
    fed_edus = a.hs.federation_edus
    assert fed_edus is not None
    store = fed_edus.device_lists.store

    def update(device_id: str, stream_id: int, name: str) -> dict[str, Any]:
        content = {
            "user_id": bob,
            "device_id": device_id,
            "stream_id": stream_id,
            "prev_id": [],
            "device_display_name": name,
        }
        return {"edu_type": "m.device_list_update", "content": content}

    def to_device(event_type: str, message_id: str, user_id: str = alice) -> dict[str, Any]:
        content = {
            "sender": bob,
            "type": event_type,
            "message_id": message_id,
            "messages": {user_id: {"*": {"x": "\x00"}}},
        }
        return {"edu_type": "m.direct_to_device", "content": content}

    with caplog.at_level(logging.ERROR):
        edus = [
            update("D\x00", 1, "n"),
            update("D1", 2, "name\x00"),
            to_device("t\x00", "m1"),
            to_device("t", "m\x00"),
            to_device("t", "m2", f"@x\x00:{a.name}"),
            to_device("t", "m3"),
        ]
        for i, edu in enumerate(edus):
            await send_txn(b, a, f"edu{i}", [], edus=[edu])

        async def stored_device() -> bool:
            # (A then resynchronises bob's list from B, which marks D1 deleted)
            devices = await store.devices(bob, include_deleted=True)
            return [d.device_id for d in devices] == ["D1"]

        await eventually(stored_device)
    assert (await store.devices(bob, include_deleted=True))[0].display_name is None
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]

"""Redactions received over federation that would not apply are kept from clients.

Spec: rooms fragment v3-handling-redactions: redactions "should not be sent to clients
until both the redaction event and the event the redaction affects have been
received, and can be validated ... If the server would apply a redaction, the
redaction event is also sent to clients". Two real ranvier servers on loopback; B
sends redactions of alice's events in another room, of an unknown event, and
without the power to redact; only bob's redaction of his own message shows in
alice's ``/sync`` and ``/messages`` (Sytest 50federation 39redactions.pl).
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

import orjson

from ranvier.core.builder import build_event, select_auth_events
from ranvier.core.events import Event
from ranvier.federation.client import path_segment
from tests.federation.helpers import (
    call,
    craft,
    eventually,
    has_event,
    room_state,
    send_txn,
    shared_room,
    start_two,
)
from tests.federation.peers import Peer


async def _redaction(a: Peer, b: Peer, room_id: str, sender: str, target: str) -> Event:
    """A redaction of ``target`` by ``sender`` (a user of B), on A's current DAG."""
    room = await a.hs.room_storage.events.get_room(room_id)
    assert room is not None
    storage = a.hs.room_storage
    ext = await storage.events.forward_extremities(room.nid)
    prev = [s.event for s in (await storage.events.get_by_nids(ext)).values()]
    state = await room_state(a, room_id)
    auth = select_auth_events(room.room_version, "m.room.redaction", None, sender, {}, state)
    return build_event(
        room_version=room.room_version,
        room_id=room_id,
        sender=sender,
        event_type="m.room.redaction",
        content={},
        prev_events=prev,
        auth_events=auth,
        origin=b.name,
        signing_key=b.key,
        redacts=target,
    )


async def _token(peer: Peer, localpart: str) -> str:
    status, body = await call(
        peer,
        "POST",
        "/_matrix/client/v3/login",
        body={
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": localpart},
            "password": "pw",
        },
    )
    assert status == 200, body
    return str(body["access_token"])


async def test_redactions_that_would_not_apply_are_withheld(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    room_1, alice, bob = await shared_room(a, b)
    room_2 = await a.hs.rooms.create_room(alice, preset="public_chat")
    await b.hs.membership.join(room_2, bob, servers=[a.name])
    token = await _token(a, "alice")
    hello = await a.hs.rooms.send_event(room_1, alice, "m.room.message", {"body": "hello"})

    # In room 2, a redaction of alice's message of room 1.
    elsewhere = await _redaction(a, b, room_2, bob, hello)
    # In room 1: bob (power 0, another server) redacting alice's message; an unknown
    # event; and his own message (which applies).
    unauthorised = await _redaction(a, b, room_1, bob, hello)
    assert (await send_txn(b, a, "r1", [elsewhere.pdu, unauthorised.pdu]))["pdus"] == {
        elsewhere.event_id: {},
        unauthorised.event_id: {},
    }
    unknown = await _redaction(a, b, room_1, bob, "$notanevent")
    assert (await send_txn(b, a, "r2", [unknown.pdu]))["pdus"] == {unknown.event_id: {}}
    own = await craft(a, b, room_1, bob, "m.room.message", {"body": "oops"})
    await send_txn(b, a, "r3", [own.pdu])
    own_redaction = await _redaction(a, b, room_1, bob, own.event_id)
    await send_txn(b, a, "r4", [own_redaction.pdu])
    # A redaction of that redaction applies too; the redacted redaction (read without
    # its ``redacts`` before v11) still shows.
    second = await _redaction(a, b, room_1, bob, own_redaction.event_id)
    sentinel = await craft(a, b, room_1, bob, "m.room.message", {"body": "sentinel"})
    await send_txn(b, a, "r5", [second.pdu, sentinel.pdu])
    await eventually(lambda: has_event(a, sentinel.event_id))

    flt = urllib.parse.quote(orjson.dumps({"room": {"timeline": {"limit": 50}}}).decode())
    status, sync = await call(a, "GET", f"/_matrix/client/v3/sync?filter={flt}", token)
    assert status == 200

    def timeline(room_id: str) -> list[str]:
        events: list[dict[str, Any]] = sync["rooms"]["join"][room_id]["timeline"]["events"]
        return [e["event_id"] for e in events]

    shown_1, shown_2 = timeline(room_1), timeline(room_2)
    assert own_redaction.event_id in shown_1 and sentinel.event_id in shown_1
    assert second.event_id in shown_1
    assert unauthorised.event_id not in shown_1 and unknown.event_id not in shown_1
    assert elsewhere.event_id not in shown_2
    status, page = await call(
        a,
        "GET",
        f"/_matrix/client/v3/rooms/{path_segment(room_1)}/messages?dir=b&limit=50",
        token,
    )
    assert status == 200
    listed = [e["event_id"] for e in page["chunk"]]
    assert own_redaction.event_id in listed and unauthorised.event_id not in listed
    # alice's message is not redacted; bob's own is.
    status, got = await call(
        a, "GET", f"/_matrix/client/v3/rooms/{path_segment(room_1)}/event/{hello}", token
    )
    assert status == 200 and got["content"] == {"body": "hello"}
    for event_id in (own.event_id, own_redaction.event_id):
        got_back = await a.hs.room_storage.events.get_by_id(event_id)
        assert got_back is not None and got_back.redacted_by is not None

"""Event construction: a small room built in every room version, each event
checked for format, hashes, signatures, ids and the auth rules."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from ranvier.core.auth import check_auth_rules
from ranvier.core.b64 import encode_base64
from ranvier.core.builder import build_event, new_v1_event_id, select_auth_events
from ranvier.core.events import Event, StateKey
from ranvier.core.format import check_pdu_format, max_depth
from ranvier.core.hashes import check_content_hash, compute_event_id, compute_reference_hash
from ranvier.core.redaction import redact
from ranvier.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion, get_room_version
from ranvier.core.signing import generate_signing_key, verify_event_signature

KEY = generate_signing_key("t1")
ORIGIN = "hs.example"
ALICE = "@alice:hs.example"
BOB = "@bob:hs.example"
VERSIONS = list(KNOWN_ROOM_VERSIONS.values())


class Room:
    """Builds events on top of each other, keeping the current state."""

    def __init__(self, rv: RoomVersion) -> None:
        self.rv = rv
        self.state: dict[StateKey, Event] = {}
        self.room_id: str | None = None if rv.room_id_from_create_event else "!room:hs.example"
        self.last: list[Event] = []
        self.ts = 1_000

    def send(
        self, event_type: str, content: dict[str, Any], state_key: str | None = None, **kw: Any
    ) -> Event:
        sender = kw.pop("sender", ALICE)
        auth = select_auth_events(self.rv, event_type, state_key, sender, content, self.state)
        self.ts += 1
        event = build_event(
            room_version=self.rv,
            room_id=self.room_id,
            sender=sender,
            event_type=event_type,
            content=content,
            state_key=state_key,
            prev_events=self.last,
            auth_events=auth,
            origin=ORIGIN,
            signing_key=KEY,
            origin_server_ts=self.ts,
            **kw,
        )
        check_event(event)
        check_auth_rules(event, self.state)
        if self.room_id is None:
            self.room_id = event.room_id
        if event.state_key is not None:
            self.state[event.state_tuple] = event
        self.last = [event]
        return event


def check_event(event: Event) -> None:
    rv = event.room_version
    check_pdu_format(event.pdu, rv)
    assert check_content_hash(event.pdu)
    verify_event_signature(event.pdu, rv, ORIGIN, KEY.key_id, KEY.verify_key_bytes)
    verify_event_signature(redact(event.pdu, rv), rv, ORIGIN, KEY.key_id, KEY.verify_key)
    assert compute_event_id(event.pdu, rv) == event.event_id
    assert Event(event.pdu, rv).event_id == event.event_id


def build_room(rv: RoomVersion) -> tuple[Room, list[Event]]:
    room = Room(rv)
    create_content: dict[str, Any] = {"room_version": rv.identifier}
    if not rv.implicit_room_creator:
        create_content["creator"] = ALICE
    events = [
        room.send("m.room.create", create_content, ""),
        room.send("m.room.member", {"membership": "join"}, ALICE),
        room.send("m.room.power_levels", {"users": {} if rv.privileged_creators else {ALICE: 100}},
                  ""),
        room.send("m.room.join_rules", {"join_rule": "public"}, ""),
        room.send("m.room.member", {"membership": "join"}, BOB, sender=BOB),
        room.send("m.room.message", {"body": "hello", "msgtype": "m.text"}),
    ]  # fmt: skip
    return room, events


@pytest.mark.parametrize("rv", VERSIONS, ids=lambda rv: f"v{rv.identifier}")
def test_build_room_every_version(rv: RoomVersion) -> None:
    room, events = build_room(rv)
    create, alice_join, pl, jr, bob_join, message = events
    assert [e.depth for e in events] == [1, 2, 3, 4, 5, 6]
    assert message.prev_event_ids == (bob_join.event_id,)
    assert create.auth_event_ids == ()
    if rv.room_id_from_create_event:
        assert "room_id" not in create.pdu
        assert room.room_id == "!" + create.event_id[1:]
        assert create.event_id not in message.auth_event_ids
        assert set(bob_join.auth_event_ids) == {pl.event_id, jr.event_id}
    else:
        assert create.pdu["room_id"] == room.room_id
        assert create.event_id in message.auth_event_ids
        assert set(bob_join.auth_event_ids) == {create.event_id, pl.event_id, jr.event_id}
    assert set(message.auth_event_ids) - {create.event_id} == {pl.event_id, alice_join.event_id}
    assert "origin" not in message.pdu
    for e in events:
        assert e.room_id == room.room_id


def test_v1_shape() -> None:
    rv = get_room_version("1")
    _, events = build_room(rv)
    message = events[-1]
    assert re.fullmatch(r"\$[A-Za-z]{18}:hs\.example", message.event_id)
    assert message.pdu["event_id"] == message.event_id
    (prev,) = message.pdu["prev_events"]
    parent = events[-2]
    assert prev == [
        parent.event_id,
        {"sha256": encode_base64(compute_reference_hash(parent.pdu, rv))},
    ]
    assert all(isinstance(ref, list) for ref in message.pdu["auth_events"])
    assert new_v1_event_id("x.org") != new_v1_event_id("x.org")


def test_v3_and_v4_id_alphabets() -> None:
    for version, alphabet in (("3", r"[A-Za-z0-9+/]"), ("4", r"[A-Za-z0-9_\-]")):
        _, events = build_room(get_room_version(version))
        for e in events:
            assert re.fullmatch(r"\$" + alphabet + "{43}", e.event_id)


@pytest.mark.parametrize("version", ["10", "11", "12"])
def test_redacts_placement(version: str) -> None:
    rv = get_room_version(version)
    room, events = build_room(rv)
    target = events[-1].event_id
    redaction = room.send("m.room.redaction", {"reason": "oops"}, redacts=target)
    assert redaction.redacts == target
    if rv.updated_redaction_rules:
        assert redaction.pdu["content"] == {"reason": "oops", "redacts": target}
        assert "redacts" not in redaction.pdu
        assert redact(redaction.pdu, rv)["content"] == {"redacts": target}
    else:
        assert redaction.pdu["redacts"] == target
        assert redaction.pdu["content"] == {"reason": "oops"}


def test_depth_rules() -> None:
    rv = get_room_version("10")
    room, events = build_room(rv)
    e = build_event(
        room_version=rv, room_id=room.room_id, sender=ALICE, event_type="m.room.message",
        content={}, prev_events=events[:2], auth_events=[], origin=ORIGIN, signing_key=KEY,
    )  # fmt: skip
    assert e.depth == 3  # max of parents + 1
    e = build_event(
        room_version=rv, room_id=room.room_id, sender=ALICE, event_type="x", content={},
        prev_events=[], auth_events=[], origin=ORIGIN, signing_key=KEY, depth=2**60,
    )  # fmt: skip
    assert e.depth == max_depth(rv) == 2**53 - 1
    v5 = get_room_version("5")
    e = build_event(
        room_version=v5, room_id="!r:x", sender=ALICE, event_type="x", content={},
        prev_events=[], auth_events=[], origin=ORIGIN, signing_key=KEY, depth=2**63 + 5,
    )  # fmt: skip
    assert e.depth == 2**63 - 1
    check_pdu_format(e.pdu, v5)


def test_timestamp_unsigned_and_input_untouched() -> None:
    rv = get_room_version("11")
    content = {"body": "x"}
    e = build_event(
        room_version=rv, room_id="!r:hs.example", sender=ALICE, event_type="m.room.message",
        content=content, prev_events=[], auth_events=[], origin=ORIGIN, signing_key=KEY,
        unsigned={"transaction_id": "t1"}, redacts="$abc",
    )  # fmt: skip
    assert content == {"body": "x"}
    assert e.pdu["unsigned"] == {"transaction_id": "t1"}
    assert abs(e.origin_server_ts - time.time() * 1000) < 60_000
    check_event(e)


def test_room_id_required_except_v12_create() -> None:
    with pytest.raises(ValueError, match="room_id"):
        build_event(
            room_version=get_room_version("12"), room_id=None, sender=ALICE,
            event_type="m.room.message", content={}, prev_events=[], auth_events=[],
            origin=ORIGIN, signing_key=KEY,
        )  # fmt: skip


def test_v12_drops_create_from_auth_events_and_create_room_id_ignored() -> None:
    rv = get_room_version("12")
    room, events = build_room(rv)
    create = events[0]
    e = build_event(
        room_version=rv, room_id=room.room_id, sender=ALICE, event_type="m.room.message",
        content={}, prev_events=events[-1:], auth_events=[create, events[1]], origin=ORIGIN,
        signing_key=KEY,
    )  # fmt: skip
    assert e.auth_event_ids == (events[1].event_id,)
    create2 = build_event(
        room_version=rv, room_id="!ignored:x", sender=ALICE, event_type="m.room.create",
        state_key="", content={"room_version": "12"}, prev_events=[], auth_events=events[1:3],
        origin=ORIGIN, signing_key=KEY,
    )  # fmt: skip
    assert "room_id" not in create2.pdu and create2.pdu["auth_events"] == []


def test_select_auth_events_membership() -> None:
    rv = get_room_version("10")
    room, events = build_room(rv)
    create, alice_join, pl, jr, bob_join, _ = events
    picked = select_auth_events(rv, "m.room.member", BOB, ALICE, {"membership": "ban"}, room.state)
    assert set(picked) == {create, pl, alice_join, bob_join}
    picked = select_auth_events(
        rv, "m.room.member", "@carol:x", "@carol:x", {"membership": "join"}, room.state
    )
    assert set(picked) == {create, pl, jr}
    assert select_auth_events(rv, "m.room.create", "", ALICE, {}, room.state) == []

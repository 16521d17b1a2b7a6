"""Auth events selection (server-server-api "Auth events selection") and the rule
about an event's listed auth events (rooms/v1-v11 rule 2, rooms/v12 rule 3)."""

from __future__ import annotations

from typing import Any

import pytest

from ranvier.core.auth import AuthError, auth_types_for_event, check_auth_events_shape
from ranvier.core.events import Event, StateKey
from ranvier.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from tests.core.auth.cases import ALL, versions
from tests.core.auth.roombuilder import ALICE, BOB, CAROL, Room, standard_room

CREATE: StateKey = ("m.room.create", "")
PL: StateKey = ("m.room.power_levels", "")
JR: StateKey = ("m.room.join_rules", "")


def _base(rv: RoomVersion, sender: str) -> set[StateKey]:
    keys = {PL, ("m.room.member", sender)}
    if not rv.room_id_from_create_event:
        keys.add(CREATE)
    return keys


SELECTION: list[tuple[str, str, str | None, str, dict[str, Any], set[StateKey]]] = [
    # (name, type, state_key, sender, content, extra keys beyond the base set)
    ("message", "m.room.message", None, BOB, {"body": "x"}, set()),
    ("state", "m.room.topic", "", BOB, {"topic": "x"}, set()),
    ("join", "m.room.member", BOB, BOB, {"membership": "join"}, {JR}),
    (
        "invite",
        "m.room.member",
        CAROL,
        BOB,
        {"membership": "invite"},
        {JR, ("m.room.member", CAROL)},
    ),
    ("knock", "m.room.member", BOB, BOB, {"membership": "knock"}, {JR}),
    ("leave", "m.room.member", BOB, BOB, {"membership": "leave"}, set()),
    ("kick", "m.room.member", CAROL, BOB, {"membership": "leave"}, {("m.room.member", CAROL)}),
    ("ban", "m.room.member", CAROL, BOB, {"membership": "ban"}, {("m.room.member", CAROL)}),
    (
        "third-party invite",
        "m.room.member",
        CAROL,
        BOB,
        {"membership": "invite", "third_party_invite": {"signed": {"token": "tok"}}},
        {JR, ("m.room.member", CAROL), ("m.room.third_party_invite", "tok")},
    ),
    (
        "third-party invite without token",
        "m.room.member",
        CAROL,
        BOB,
        {"membership": "invite", "third_party_invite": {"signed": {}}},
        {JR, ("m.room.member", CAROL)},
    ),
    (
        "third_party_invite on a join selects nothing extra",
        "m.room.member",
        BOB,
        BOB,
        {"membership": "join", "third_party_invite": {"signed": {"token": "tok"}}},
        {JR},
    ),
    (
        "authorised join on a leave selects nothing extra",
        "m.room.member",
        BOB,
        BOB,
        {"membership": "leave", "join_authorised_via_users_server": CAROL},
        set(),
    ),
]


@pytest.mark.parametrize("rv", ALL, ids=lambda rv: "v" + rv.identifier)
@pytest.mark.parametrize(
    ("name", "etype", "state_key", "sender", "content", "extra"),
    SELECTION,
    ids=[row[0] for row in SELECTION],
)
def test_selection(
    rv: RoomVersion,
    name: str,
    etype: str,
    state_key: str | None,
    sender: str,
    content: dict[str, Any],
    extra: set[StateKey],
) -> None:
    got = auth_types_for_event(rv, etype, state_key, sender, content)
    expected = (
        _base(rv, sender) | {("m.room.member", state_key)}
        if etype == "m.room.member"
        else _base(rv, sender)
    )
    assert got == expected | extra, name


@pytest.mark.parametrize("rv", ALL, ids=lambda rv: "v" + rv.identifier)
def test_selection_restricted_join(rv: RoomVersion) -> None:
    content = {"membership": "join", "join_authorised_via_users_server": CAROL}
    got = auth_types_for_event(rv, "m.room.member", BOB, BOB, content)
    assert (("m.room.member", CAROL) in got) == rv.restricted_join_rule


@pytest.mark.parametrize("rv", ALL, ids=lambda rv: "v" + rv.identifier)
def test_selection_create_is_empty(rv: RoomVersion) -> None:
    assert auth_types_for_event(rv, "m.room.create", "", ALICE, {}) == set()


# ---- rule 2 / v12 rule 3 -----------------------------------------------------------


def _listed(room: Room, keys: list[StateKey], **extra: Any) -> tuple[Event, list[Event]]:
    """A message from ALICE listing the state events under ``keys``."""
    events = [room.state[k] for k in keys]
    ev = room.event(
        "m.room.message", ALICE, {"body": "x"}, auth_events=[e.event_id for e in events], **extra
    )
    return ev, events


def _good_keys(rv: RoomVersion) -> list[StateKey]:
    keys: list[StateKey] = [PL, ("m.room.member", ALICE)]
    if not rv.room_id_from_create_event:
        keys.insert(0, CREATE)
    return keys


@pytest.mark.parametrize("rv", ALL, ids=lambda rv: "v" + rv.identifier)
def test_shape_ok(rv: RoomVersion) -> None:
    room = standard_room(rv)
    ev, events = _listed(room, _good_keys(rv))
    check_auth_events_shape(ev, events)


@pytest.mark.parametrize("rv", ALL, ids=lambda rv: "v" + rv.identifier)
def test_shape_create_event_itself(rv: RoomVersion) -> None:
    room = Room(rv)
    check_auth_events_shape(room.create, [])


def _reject(ev: Event, events: list[Event], **kw: Any) -> str:
    with pytest.raises(AuthError) as info:
        check_auth_events_shape(ev, events, **kw)
    assert info.value.rule == "auth_events"
    return info.value.reason


@pytest.mark.parametrize("rv", versions(1, 11), ids=lambda rv: "v" + rv.identifier)
def test_shape_missing_create(rv: RoomVersion) -> None:
    """v1-v11 2.4: no m.room.create among the auth events."""
    room = standard_room(rv)
    ev, events = _listed(room, [PL, ("m.room.member", ALICE)])
    assert "m.room.create" in _reject(ev, events)


@pytest.mark.parametrize("rv", versions(12), ids=lambda rv: "v" + rv.identifier)
def test_shape_v12_create_listed(rv: RoomVersion) -> None:
    """v12 3.2: the create event MUST NOT be selected."""
    room = standard_room(rv)
    ev, events = _listed(room, [CREATE, PL, ("m.room.member", ALICE)])
    assert "not selected" in _reject(ev, events)


@pytest.mark.parametrize("rv", ALL, ids=lambda rv: "v" + rv.identifier)
def test_shape_unselected_entry(rv: RoomVersion) -> None:
    """2.2: the join rules are not selected for a message."""
    room = standard_room(rv)
    ev, events = _listed(room, [*_good_keys(rv), JR])
    assert "not selected" in _reject(ev, events)


@pytest.mark.parametrize("rv", ALL, ids=lambda rv: "v" + rv.identifier)
def test_shape_other_users_member_event(rv: RoomVersion) -> None:
    """2.2: another user's membership is not selected for a message."""
    room = standard_room(rv)
    room.set_member(BOB, "join")
    ev, events = _listed(room, [*_good_keys(rv), ("m.room.member", BOB)])
    assert "not selected" in _reject(ev, events)


@pytest.mark.parametrize("rv", ALL, ids=lambda rv: "v" + rv.identifier)
def test_shape_duplicate_pair(rv: RoomVersion) -> None:
    """2.1: two events for the same (type, state_key)."""
    room = standard_room(rv)
    old_pl = room.state[PL]
    room.set_power_levels({"users": {} if rv.privileged_creators else {ALICE: 100}})
    events = [room.state[k] for k in _good_keys(rv)] + [old_pl]
    ev = room.event("m.room.message", ALICE, {}, auth_events=[e.event_id for e in events])
    assert "duplicate" in _reject(ev, events)


@pytest.mark.parametrize("rv", ALL, ids=lambda rv: "v" + rv.identifier)
def test_shape_same_event_twice(rv: RoomVersion) -> None:
    """2.1: the same event listed twice is a duplicate pair too."""
    room = standard_room(rv)
    events = [room.state[k] for k in _good_keys(rv)]
    ids = [e.event_id for e in events]
    ev = room.event("m.room.message", ALICE, {}, auth_events=[*ids, ids[-1]])
    _reject(ev, events)


@pytest.mark.parametrize("rv", ALL, ids=lambda rv: "v" + rv.identifier)
def test_shape_rejected_entry(rv: RoomVersion) -> None:
    """2.3: an auth event that was itself rejected."""
    room = standard_room(rv)
    ev, events = _listed(room, _good_keys(rv))
    assert "rejected" in _reject(ev, events, rejected={room.state[PL].event_id})


@pytest.mark.parametrize("rv", ALL, ids=lambda rv: "v" + rv.identifier)
def test_shape_other_room(rv: RoomVersion) -> None:
    """2.5: an auth event whose room_id differs."""
    room = standard_room(rv)
    keys = _good_keys(rv)
    events = [room.state[k] for k in keys]
    foreign_pl = Event({**events[-2].pdu, "room_id": "!other:a.test"}, rv, event_id="$foreign")
    events[-2] = foreign_pl
    ev = room.event("m.room.message", ALICE, {}, auth_events=[e.event_id for e in events])
    assert "belongs to room" in _reject(ev, events)


@pytest.mark.parametrize("rv", ALL, ids=lambda rv: "v" + rv.identifier)
def test_shape_events_must_match_the_list(rv: RoomVersion) -> None:
    room = standard_room(rv)
    ev, events = _listed(room, _good_keys(rv))
    assert "do not match" in _reject(ev, events[:-1])


@pytest.mark.parametrize("rv", ALL, ids=lambda rv: "v" + rv.identifier)
def test_shape_restricted_join_lists_authoriser(rv: RoomVersion) -> None:
    """The authorising user's membership is selectable only where restricted rooms exist."""
    room = standard_room(rv, "restricted")
    room.set_member(CAROL, "join")
    keys = [*_good_keys(rv)[:-1], JR, ("m.room.member", CAROL)]
    events = [room.state[k] for k in keys]
    ev = room.member(
        BOB,
        "join",
        content={"join_authorised_via_users_server": CAROL},
        auth_events=[e.event_id for e in events],
    )
    if rv.restricted_join_rule:
        check_auth_events_shape(ev, events)
    else:
        _reject(ev, events)


def test_v1_event_reference_pairs() -> None:
    """v1-v2 auth_events are [id, hashes] pairs; the shape check reads the ids."""
    rv = KNOWN_ROOM_VERSIONS["1"]
    room = standard_room(rv)
    events = [room.state[k] for k in _good_keys(rv)]
    pairs = [[e.event_id, {"sha256": "x"}] for e in events]
    ev = room.event("m.room.message", ALICE, {}, auth_events=pairs)
    check_auth_events_shape(ev, events)

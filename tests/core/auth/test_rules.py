"""Table of the rules outside membership and power levels: create (rule 1),
the room of the create event (v12 rule 2, v1-v11 rule 2.5 via the state),
``m.federate`` (rule 3), ``m.room.aliases`` (v1-v5 rule 4), the sender's
membership (rule 5 of v3-v11), the required power level (7), state keys naming
users (8), v1-v2 redactions (rule 11 of rooms/v1) and "otherwise, allow".
"""

from __future__ import annotations

from typing import Any

import pytest

from ranvier.core.auth import redaction_allowed_at_serve_time
from ranvier.core.events import Event
from ranvier.core.room_versions import RoomVersion
from tests.core.auth.cases import ALL, Case, Table, run_case, versions
from tests.core.auth.roombuilder import ALICE, BOB, CAROL, DAVE, Room, standard_room

T = Table()
R = tuple[Room, Event]


def _create(rv: RoomVersion, content: dict[str, Any] | None = None, **extra: Any) -> R:
    r = Room(rv)
    merged = dict(r.create_content)
    for k, v in (content or {}).items():
        if v is None:
            merged.pop(k, None)
        else:
            merged[k] = v
    return r, r.make_create(ALICE, merged, **extra)


# ---- rule 1: m.room.create -------------------------------------------------------


@T.case("1.5: a well-formed create event")
def create_ok(rv: RoomVersion) -> R:
    return _create(rv)


@T.case("1.1: create event with prev_events", "create")
def create_with_prev(rv: RoomVersion) -> R:
    return _create(rv, prev=["$x"])


@T.case("1.2 (v1-v11): room_id domain differs from sender domain", "create", versions(1, 11))
def create_foreign_room_id(rv: RoomVersion) -> R:
    return _create(rv, room_id="!room:b.test")


@T.case("1.2 (v12): create event carrying a room_id", "create", versions(12))
def create_v12_with_room_id(rv: RoomVersion) -> R:
    return _create(rv, room_id="!room:a.test")


@T.case("1.3: unrecognised room_version", "create")
def create_unknown_version(rv: RoomVersion) -> R:
    return _create(rv, {"room_version": "99"})


@T.case("1.3: room_version that is not a string", "create")
def create_int_version(rv: RoomVersion) -> R:
    return _create(rv, {"room_version": 1})


@T.case("1.3: room_version absent")
def create_no_version(rv: RoomVersion) -> R:
    return _create(rv, {"room_version": None})


@T.case("1.4 (v1-v10): content has no creator", "create", versions(1, 10))
def create_no_creator(rv: RoomVersion) -> R:
    return _create(rv, {"creator": None})


@T.case("v11+ 1: creator is no longer required", rvs=versions(11))
def create_no_creator_v11(rv: RoomVersion) -> R:
    return _create(rv, {"creator": None})


@T.case("v12 1.4: additional_creators with valid user ids", rvs=versions(12))
def create_additional_creators(rv: RoomVersion) -> R:
    return _create(rv, {"additional_creators": [BOB, "@weird name:c.test:8448"]})


@T.case("v12 1.4: additional_creators empty", rvs=versions(12))
def create_additional_creators_empty(rv: RoomVersion) -> R:
    return _create(rv, {"additional_creators": []})


@T.case("v12 1.4: additional_creators not an array", "create", versions(12))
def create_additional_creators_string(rv: RoomVersion) -> R:
    return _create(rv, {"additional_creators": BOB})


@T.case("v12 1.4: additional_creators holding a non-user-id", "create", versions(12))
def create_additional_creators_bad_id(rv: RoomVersion) -> R:
    return _create(rv, {"additional_creators": [BOB, "bob"]})


@T.case("v12 1.4: additional_creators holding a bad server name", "create", versions(12))
def create_additional_creators_bad_server(rv: RoomVersion) -> R:
    return _create(rv, {"additional_creators": ["@bob:bad_server!"]})


@T.case("v12 1.4: additional_creators holding a number", "create", versions(12))
def create_additional_creators_number(rv: RoomVersion) -> R:
    return _create(rv, {"additional_creators": [BOB, 5]})


@T.case("v1-v11: additional_creators is not checked", rvs=versions(1, 11))
def create_additional_creators_ignored(rv: RoomVersion) -> R:
    return _create(rv, {"additional_creators": "whatever"})


# ---- create event in the state / room id ------------------------------------------


@T.case("2.4: no create event in the state", "auth_events")
def no_create_in_state(rv: RoomVersion) -> R:
    r = standard_room(rv)
    del r.state[("m.room.create", "")]
    return r, r.event("m.room.message", ALICE, {})


@T.case("2.5 (v1-v11): the create event is from another room", "auth_events", versions(1, 11))
def create_from_other_room(rv: RoomVersion) -> R:
    r = standard_room(rv)
    return r, r.event("m.room.message", ALICE, {}, room_id="!elsewhere:a.test")


@T.case("v12 2: room_id is not the create event's id", "room_id", versions(12))
def v12_room_id_mismatch(rv: RoomVersion) -> R:
    r = standard_room(rv)
    return r, r.event("m.room.message", ALICE, {}, room_id="!SomeOtherCreateEvent")


# ---- rule 3: m.federate ----------------------------------------------------------


def _unfederated(rv: RoomVersion, federate: Any = False) -> Room:
    r = Room(rv, create_content={"m.federate": federate})
    r.set_member(ALICE, "join")
    r.set_power_levels({"users": {} if rv.privileged_creators else {ALICE: 100}})
    r.set_join_rule("public")
    return r


@T.case("3: m.federate false rejects a remote sender's message", "federate")
def unfederated_remote_message(rv: RoomVersion) -> R:
    r = _unfederated(rv)
    r.set_member(BOB, "join")
    return r, r.event("m.room.message", BOB, {})


@T.case("3: m.federate false rejects a remote join, before the member rule", "federate")
def unfederated_remote_join(rv: RoomVersion) -> R:
    r = _unfederated(rv)
    return r, r.member(BOB, "join")


@T.case("3: m.federate false: a user of the creator's server may join")
def unfederated_local_join(rv: RoomVersion) -> R:
    r = _unfederated(rv)
    return r, r.member(DAVE, "join")


@T.case("3: m.federate true allows remote users")
def federate_true(rv: RoomVersion) -> R:
    r = _unfederated(rv, True)
    return r, r.member(BOB, "join")


@T.case("3: only the boolean false disables federation")
def federate_string_false(rv: RoomVersion) -> R:
    r = _unfederated(rv, "false")
    return r, r.member(BOB, "join")


# ---- v1-v5 rule 4: m.room.aliases ------------------------------------------------


@T.case("v1-v5 4.3: any server may set aliases under its own name", rvs=versions(1, 5))
def aliases_by_outsider(rv: RoomVersion) -> R:
    r = standard_room(rv)
    return r, r.event("m.room.aliases", BOB, {"aliases": ["#x:b.test"]}, "b.test")


@T.case("v1-v5 4.2: aliases state_key must be the sender's domain", "aliases", versions(1, 5))
def aliases_other_domain(rv: RoomVersion) -> R:
    r = standard_room(rv)
    return r, r.event("m.room.aliases", ALICE, {"aliases": []}, "b.test")


@T.case("v1-v5 4.1: m.room.aliases without state_key", "aliases", versions(1, 5))
def aliases_no_state_key(rv: RoomVersion) -> R:
    r = standard_room(rv)
    return r, r.event("m.room.aliases", ALICE, {"aliases": []})


@T.case("v6+: m.room.aliases from a non-member is an ordinary event", "sender_joined", versions(6))
def aliases_by_outsider_v6(rv: RoomVersion) -> R:
    r = standard_room(rv)
    return r, r.event("m.room.aliases", BOB, {"aliases": ["#x:b.test"]}, "b.test")


@T.case(
    "v6+: m.room.aliases needs state_default like any state event",
    "required_power_level",
    versions(6),
)
def aliases_low_power_v6(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(BOB, "join")
    return r, r.event("m.room.aliases", BOB, {"aliases": ["#x:b.test"]}, "b.test")


@T.case("v6+: m.room.aliases with any state_key by a powerful member", rvs=versions(6))
def aliases_powerful_v6(rv: RoomVersion) -> R:
    r = standard_room(rv)
    return r, r.event("m.room.aliases", ALICE, {"aliases": []}, "b.test")


# ---- rule 5: the sender is joined ------------------------------------------------


@T.case("5: message from a user who never joined", "sender_joined")
def message_from_stranger(rv: RoomVersion) -> R:
    r = standard_room(rv)
    return r, r.event("m.room.message", BOB, {"body": "x"})


@T.case("5: message from an invited user", "sender_joined")
def message_from_invitee(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(BOB, "invite", sender=ALICE)
    return r, r.event("m.room.message", BOB, {"body": "x"})


@T.case("5: message from a user who left", "sender_joined")
def message_after_leave(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(BOB, "leave")
    return r, r.event("m.room.message", BOB, {"body": "x"})


@T.case("5: message from a banned user", "sender_joined")
def message_from_banned(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(BOB, "ban", sender=ALICE)
    return r, r.event("m.room.message", BOB, {"body": "x"})


@T.case("5: state event from a non-member creator who left", "sender_joined")
def state_from_departed_creator(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(ALICE, "leave")
    return r, r.event("m.room.topic", ALICE, {"topic": "x"}, "")


# ---- rule 7: required power level ------------------------------------------------


@T.case("7: message at events_default 0")
def message_ok(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(BOB, "join")
    return r, r.event("m.room.message", BOB, {"body": "x"})


@T.case("7: message below events_default", "required_power_level")
def message_below_events_default(rv: RoomVersion) -> R:
    r = standard_room(rv, events_default=10)
    r.set_member(BOB, "join")
    return r, r.event("m.room.message", BOB, {"body": "x"})


@T.case("7: events[type] overrides events_default (higher)", "required_power_level")
def message_type_override_high(rv: RoomVersion) -> R:
    r = standard_room(rv, events={"m.room.message": 20})
    r.set_member(BOB, "join")
    return r, r.event("m.room.message", BOB, {"body": "x"})


@T.case("7: events[type] overrides state_default (lower)")
def state_type_override_low(rv: RoomVersion) -> R:
    r = standard_room(rv, events={"m.room.topic": 0})
    r.set_member(BOB, "join")
    return r, r.event("m.room.topic", BOB, {"topic": "x"}, "")


@T.case("7: state event below state_default (50 by default)", "required_power_level")
def state_below_default(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(BOB, "join")
    return r, r.event("m.room.topic", BOB, {"topic": "x"}, "")


@T.case("7: state event exactly at state_default")
def state_at_default(rv: RoomVersion) -> R:
    r = standard_room(rv, users={BOB: 50})
    r.set_member(BOB, "join")
    return r, r.event("m.room.topic", BOB, {"topic": "x"}, "")


@T.case("7: users_default raises everyone's level")
def users_default_applies(rv: RoomVersion) -> R:
    r = standard_room(rv, users_default=50)
    r.set_member(BOB, "join")
    return r, r.event("m.room.topic", BOB, {"topic": "x"}, "")


@T.case("7: no power levels event: the creator has 100 and may send state")
def no_pl_creator_state(rv: RoomVersion) -> R:
    r = Room(rv)
    r.set_member(ALICE, "join")
    return r, r.event("m.room.name", ALICE, {"name": "x"}, "")


@T.case("7: no power levels event: others have 0 < state_default 50", "required_power_level")
def no_pl_other_state(rv: RoomVersion) -> R:
    r = Room(rv)
    r.set_member(ALICE, "join")
    r.set_join_rule("public")
    r.set_member(BOB, "join")
    return r, r.event("m.room.name", BOB, {"name": "x"}, "")


@T.case("7: no power levels event: others may send messages (events_default 0)")
def no_pl_other_message(rv: RoomVersion) -> R:
    r = Room(rv)
    r.set_member(ALICE, "join")
    r.set_member(BOB, "join")
    return r, r.event("m.room.message", BOB, {"body": "x"})


@T.case("v12 7: an additional creator outranks any required level", rvs=versions(12))
def v12_additional_creator_state(rv: RoomVersion) -> R:
    r = Room(rv, create_content={"additional_creators": [BOB]})
    r.set_member(ALICE, "join")
    r.set_power_levels({"state_default": 1_000_000})
    r.set_member(BOB, "join")
    return r, r.event("m.room.name", BOB, {"name": "x"}, "")


@T.case("v1-v11: additional_creators gives no power", "required_power_level", versions(1, 11))
def additional_creator_no_power_before_v12(rv: RoomVersion) -> R:
    r = Room(rv, create_content={"additional_creators": [BOB]})
    r.set_member(ALICE, "join")
    r.set_power_levels({"users": {ALICE: 100}})
    r.set_member(BOB, "join")
    return r, r.event("m.room.name", BOB, {"name": "x"}, "")


@T.case("v12: the creator has infinite power even if users_default is high", rvs=versions(12))
def v12_creator_beats_anything(rv: RoomVersion) -> R:
    r = standard_room(rv, events={"m.room.tombstone": 2**53 - 1})
    return r, r.event("m.room.tombstone", ALICE, {"body": "x", "replacement_room": "!n"}, "")


@T.case("v1-v11: power levels may demote the creator", "required_power_level", versions(1, 11))
def creator_demoted(rv: RoomVersion) -> R:
    r = standard_room(rv, users={ALICE: 10})
    return r, r.event("m.room.name", ALICE, {"name": "x"}, "")


# ---- rule 8: state keys naming users ---------------------------------------------


@T.case("8: state_key starting with @ naming another user", "state_key_user")
def state_key_other_user(rv: RoomVersion) -> R:
    r = standard_room(rv)
    return r, r.event("m.custom", ALICE, {}, BOB)


@T.case("8: state_key equal to the sender's id")
def state_key_own_user(rv: RoomVersion) -> R:
    r = standard_room(rv, users={BOB: 50})
    r.set_member(BOB, "join")
    return r, r.event("m.custom", BOB, {}, BOB)


@T.case("8: state_key of @ with suffix is not the sender", "state_key_user")
def state_key_user_suffix(rv: RoomVersion) -> R:
    r = standard_room(rv)
    return r, r.event("m.custom", ALICE, {}, ALICE + "_device")


@T.case("8: a state_key not starting with @ is anyone's")
def state_key_plain(rv: RoomVersion) -> R:
    r = standard_room(rv)
    return r, r.event("m.custom", ALICE, {}, "x@y")


# ---- v1-v2 rule 11: redactions; v3+: allowed by auth -------------------------------


@T.case("v1-v2 11.1: redaction by a sender at the redact level", rvs=versions(1, 2))
def redaction_powerful(rv: RoomVersion) -> R:
    r = standard_room(rv)
    return r, r.event("m.room.redaction", ALICE, {}, redacts="$1:b.test")


@T.case("v1-v2 11.2: redaction of an event id from the same server", rvs=versions(1, 2))
def redaction_same_domain(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(BOB, "join")
    return r, r.event("m.room.redaction", BOB, {}, redacts="$9:b.test", event_id="$r:b.test")


@T.case(
    "v1-v2 11.3: redaction of another server's event by a weak sender", "redaction", versions(1, 2)
)
def redaction_other_domain(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(BOB, "join")
    return r, r.event("m.room.redaction", BOB, {}, redacts="$9:a.test", event_id="$r:b.test")


@T.case(
    "v1-v2 11.2: the redaction's event id domain counts, not the sender's",
    "redaction",
    versions(1, 2),
)
def redaction_event_id_domain(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(BOB, "join")
    return r, r.event("m.room.redaction", BOB, {}, redacts="$9:b.test", event_id="$r:c.test")


@T.case("v1-v2 11.3: redaction without redacts by a weak sender", "redaction", versions(1, 2))
def redaction_without_redacts(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(BOB, "join")
    return r, r.event("m.room.redaction", BOB, {}, event_id="$r:b.test")


@T.case(
    "v1-v2 11.3: ids without a domain never count as the same server", "redaction", versions(1, 2)
)
def redaction_domainless_ids(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(BOB, "join")
    return r, r.event("m.room.redaction", BOB, {}, redacts="$abc", event_id="$def")


@T.case("v3+: redaction of someone else's event passes auth (checked when served)", rvs=versions(3))
def redaction_v3_weak(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(BOB, "join")
    return r, r.event("m.room.redaction", BOB, {"redacts": "$ev1"}, redacts="$ev1")


@T.case("v3+: m.room.redaction is subject to events[type]", "required_power_level", versions(3))
def redaction_v3_type_level(rv: RoomVersion) -> R:
    r = standard_room(rv, events={"m.room.redaction": 50})
    r.set_member(BOB, "join")
    return r, r.event("m.room.redaction", BOB, {"redacts": "$ev1"}, redacts="$ev1")


@T.case("10/11: any other event by a joined member with enough power")
def otherwise_allow(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(CAROL, "join")
    return r, r.event("org.example.custom", CAROL, {"anything": [1, 2]})


@pytest.mark.parametrize(("c", "rv"), T.params())
def test_rules(c: Case, rv: RoomVersion) -> None:
    run_case(c, rv)


@pytest.mark.parametrize("rv", versions(3), ids=lambda rv: "v" + rv.identifier)
def test_redaction_applied_at_serve_time(rv: RoomVersion) -> None:
    """rooms/v3 "Handling redactions": apply iff redact level or same server."""
    r = standard_room(rv, users={DAVE: 50})
    r.set_member(BOB, "join")
    r.set_member(DAVE, "join")
    original = r.event("m.room.message", DAVE, {"body": "x"})
    by_bob = r.event("m.room.redaction", BOB, {"redacts": original.event_id})
    by_dave2 = r.event("m.room.redaction", "@other:a.test", {"redacts": original.event_id})
    by_alice = r.event("m.room.redaction", ALICE, {"redacts": original.event_id})
    assert not redaction_allowed_at_serve_time(by_bob, original, r.state)
    assert redaction_allowed_at_serve_time(by_dave2, original, r.state)  # same server
    assert redaction_allowed_at_serve_time(by_alice, original, r.state)  # redact level
    r.set_power_levels({"users": {} if rv.privileged_creators else {ALICE: 100}, "redact": 0})
    assert redaction_allowed_at_serve_time(by_bob, original, r.state)


@pytest.mark.parametrize("rv", ALL[:2], ids=lambda rv: "v" + rv.identifier)
def test_redaction_serve_time_v1_v2_defers_to_auth(rv: RoomVersion) -> None:
    r = standard_room(rv)
    original = r.event("m.room.message", ALICE, {"body": "x"})
    redaction = r.event("m.room.redaction", BOB, {}, redacts=original.event_id)
    assert redaction_allowed_at_serve_time(redaction, original, r.state)

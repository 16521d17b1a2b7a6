"""Table of ``m.room.power_levels`` cases: rooms/v1 rule 10, rooms/v3-v11 rule 9
(v6 adds ``notifications``, v10 the integer checks 9.1-9.2), rooms/v12 rule 10
(10.4: creators may not be listed). Rule numbers below use the v10-v11
numbering: 9.1 top-level integers, 9.2 events/notifications, 9.3 users,
9.4 first power levels event, 9.5 top-level changes, 9.6/9.7 events and
notifications changes, 9.8/9.9 users changes.

Also unit tables for value parsing (rooms/v1 "accept values as strings" and
"... as floats"; rooms/v10 "must be integers") and for reading levels.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from ranvier.core.auth import (
    get_creators,
    get_named_power_level,
    get_required_power_level,
    get_user_power_level,
    parse_power_level,
)
from ranvier.core.events import Event
from ranvier.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from tests.core.auth.cases import ALL, Case, Table, run_case, versions
from tests.core.auth.roombuilder import ALICE, BOB, CAROL, DAVE, Room, standard_room

T = Table()
R = tuple[Room, Event]


def _creator_users(rv: RoomVersion) -> dict[str, Any]:
    return {} if rv.privileged_creators else {ALICE: 100}


def _first(rv: RoomVersion, content: dict[str, Any]) -> R:
    """The creator sends the room's first power levels event."""
    r = Room(rv)
    r.set_member(ALICE, "join")
    return r, r.event("m.room.power_levels", ALICE, content, "")


def _change(rv: RoomVersion, old: dict[str, Any], new: dict[str, Any], sender: str = DAVE) -> R:
    """``sender`` (joined) replaces power levels ``old`` with ``new``. Both get the
    creator's entry (outside v12) and let anyone send m.room.power_levels."""
    r = Room(rv)
    r.set_member(ALICE, "join")
    base: dict[str, Any] = {"events": {"m.room.power_levels": 0}}
    old_full = {**base, **old, "users": {**_creator_users(rv), **old.get("users", {})}}
    new_full = {**base, **new, "users": {**_creator_users(rv), **new.get("users", {})}}
    r.set_power_levels(old_full)
    r.set_member(sender, "join")
    return r, r.event("m.room.power_levels", sender, new_full, "")


# ---- 9.1-9.3: validation ---------------------------------------------------------


@T.case("9.4: the first power levels event needs no comparison")
def first_pl(rv: RoomVersion) -> R:
    return _first(rv, {"users": {**_creator_users(rv), BOB: 100}, "ban": 100})


@T.case("9.3: users keys must be user ids", "power_levels/users")
def users_bad_key(rv: RoomVersion) -> R:
    return _first(rv, {"users": {"bob": 10}})


@T.case("9.3: users key with an invalid server name", "power_levels/users")
def users_bad_server(rv: RoomVersion) -> R:
    return _first(rv, {"users": {"@bob:exa mple": 10}})


@T.case("9.3: users must be an object", "power_levels/users")
def users_not_object(rv: RoomVersion) -> R:
    return _first(rv, {"users": [ALICE]})


@T.case("9.3: users values may not be booleans", "power_levels/users")
def users_bool(rv: RoomVersion) -> R:
    return _first(rv, {"users": {BOB: True}})


@T.case("v1-v9 9.3: users values may be integer strings", rvs=versions(1, 9))
def users_string_ok(rv: RoomVersion) -> R:
    return _first(rv, {"users": {BOB: " +050 "}})


@T.case("v10+ 9.3: users values must be integers", "power_levels/users", versions(10))
def users_string_v10(rv: RoomVersion) -> R:
    return _first(rv, {"users": {BOB: "50"}})


@T.case("v1-v9 9.3: a decimal string is not an integer", "power_levels/users", versions(1, 9))
def users_decimal_string(rv: RoomVersion) -> R:
    return _first(rv, {"users": {BOB: "50.5"}})


@T.case("v1-v9 9.3: underscores are not digits", "power_levels/users", versions(1, 9))
def users_underscore_string(rv: RoomVersion) -> R:
    return _first(rv, {"users": {BOB: "5_0"}})


@T.case("v1-v5: users values may be floats (truncated)", rvs=versions(1, 5))
def users_float_ok(rv: RoomVersion) -> R:
    return _first(rv, {"users": {BOB: 50.57}})


@T.case("v6+: floats are not power levels", "power_levels/users", versions(6))
def users_float_v6(rv: RoomVersion) -> R:
    return _first(rv, {"users": {BOB: 50.0}})


@T.case("v1-v5: NaN and infinities are rejected", "power_levels/users", versions(1, 5))
def users_float_inf(rv: RoomVersion) -> R:
    return _first(rv, {"users": {BOB: math.inf}})


@T.case("v10+ 9.1: top-level levels must be integers", "power_levels/integers", versions(10))
def ban_string_v10(rv: RoomVersion) -> R:
    return _first(rv, {"ban": "50"})


@T.case("v1-v9: top-level levels may be strings", rvs=versions(1, 9))
def ban_string_v9(rv: RoomVersion) -> R:
    return _first(rv, {"ban": "50", "state_default": "0"})


@T.case("v10+ 9.2: events values must be integers", "power_levels/integers", versions(10))
def events_value_string_v10(rv: RoomVersion) -> R:
    return _first(rv, {"events": {"m.room.name": "50"}})


@T.case("v10+ 9.2: notifications values must be integers", "power_levels/integers", versions(10))
def notifications_value_string_v10(rv: RoomVersion) -> R:
    return _first(rv, {"notifications": {"room": "50"}})


@T.case("9.2: events must be an object", "power_levels/integers")
def events_not_object(rv: RoomVersion) -> R:
    return _first(rv, {"events": ["m.room.name"]})


@T.case(
    "v12 10.4: the create sender may not be listed in users", "power_levels/creators", versions(12)
)
def v12_creator_listed(rv: RoomVersion) -> R:
    return _first(rv, {"users": {ALICE: 100}})


@T.case(
    "v12 10.4: an additional creator may not be listed in users",
    "power_levels/creators",
    versions(12),
)
def v12_additional_creator_listed(rv: RoomVersion) -> R:
    r = Room(rv, create_content={"additional_creators": [BOB]})
    r.set_member(ALICE, "join")
    return r, r.event("m.room.power_levels", ALICE, {"users": {BOB: 50}}, "")


@T.case("v1-v11: the creator is listed in users as usual", rvs=versions(1, 11))
def creator_listed_before_v12(rv: RoomVersion) -> R:
    return _first(rv, {"users": {ALICE: 100}})


# ---- 9.5: top-level levels -------------------------------------------------------


@T.case("9.5: raising ban up to the sender's level")
def raise_ban_to_own(rv: RoomVersion) -> R:
    return _change(rv, {"users": {DAVE: 60}}, {"users": {DAVE: 60}, "ban": 60})


@T.case("9.5.2: raising kick above the sender's level", "power_levels/levels")
def raise_kick_above_own(rv: RoomVersion) -> R:
    return _change(rv, {"users": {DAVE: 60}}, {"users": {DAVE: 60}, "kick": 61})


@T.case("9.5.1: lowering a level that is above the sender's", "power_levels/levels")
def lower_redact_from_above(rv: RoomVersion) -> R:
    return _change(rv, {"users": {DAVE: 60}, "redact": 70}, {"users": {DAVE: 60}, "redact": 0})


@T.case("9.5.1: removing a level that is above the sender's", "power_levels/levels")
def remove_invite_from_above(rv: RoomVersion) -> R:
    return _change(rv, {"users": {DAVE: 60}, "invite": 70}, {"users": {DAVE: 60}})


@T.case("9.5: unchanged levels above the sender's are fine")
def unchanged_high_level(rv: RoomVersion) -> R:
    old = {"users": {DAVE: 60}, "state_default": 90}
    return _change(rv, old, {**old, "events_default": 10})


@T.case("9.5: users_default is a checked level", "power_levels/levels")
def raise_users_default(rv: RoomVersion) -> R:
    return _change(rv, {"users": {DAVE: 60}}, {"users": {DAVE: 60}, "users_default": 100})


@T.case("v1-v9 9.5: '50' and 50 are the same value (no change)", rvs=versions(1, 9))
def string_equals_int(rv: RoomVersion) -> R:
    return _change(rv, {"ban": "100"}, {"ban": 100})


# ---- 9.6/9.7: events and notifications --------------------------------------------


@T.case("9.7: adding an events entry at the sender's level")
def add_event_level_ok(rv: RoomVersion) -> R:
    return _change(
        rv,
        {"users": {DAVE: 60}},
        {"users": {DAVE: 60}, "events": {"m.room.power_levels": 0, "m.room.name": 60}},
    )


@T.case("9.7: adding an events entry above the sender's level", "power_levels/events")
def add_event_level_high(rv: RoomVersion) -> R:
    return _change(
        rv,
        {"users": {DAVE: 60}},
        {"users": {DAVE: 60}, "events": {"m.room.power_levels": 0, "m.room.name": 61}},
    )


@T.case("9.6: removing an events entry above the sender's level", "power_levels/events")
def remove_event_level_high(rv: RoomVersion) -> R:
    old = {"users": {DAVE: 60}, "events": {"m.room.power_levels": 0, "m.room.name": 61}}
    return _change(rv, old, {"users": {DAVE: 60}, "events": {"m.room.power_levels": 0}})


@T.case("9.6: changing an events entry below the sender's level")
def change_event_level_low(rv: RoomVersion) -> R:
    old = {"users": {DAVE: 60}, "events": {"m.room.power_levels": 0, "m.room.name": 10}}
    return _change(
        rv, old, {"users": {DAVE: 60}, "events": {"m.room.power_levels": 0, "m.room.name": 20}}
    )


@T.case(
    "v6+ 9.7: raising notifications.room above the sender's level",
    "power_levels/notifications",
    versions(6),
)
def raise_notifications_v6(rv: RoomVersion) -> R:
    return _change(rv, {"users": {DAVE: 60}}, {"users": {DAVE: 60}, "notifications": {"room": 100}})


@T.case("v1-v5: notifications are not checked", rvs=versions(1, 5))
def raise_notifications_v5(rv: RoomVersion) -> R:
    return _change(rv, {"users": {DAVE: 60}}, {"users": {DAVE: 60}, "notifications": {"room": 100}})


@T.case(
    "v6+ 9.6: removing a notifications entry above the sender's level",
    "power_levels/notifications",
    versions(6),
)
def remove_notifications_v6(rv: RoomVersion) -> R:
    return _change(rv, {"users": {DAVE: 60}, "notifications": {"room": 100}}, {"users": {DAVE: 60}})


@T.case("v6+ 9.7: lowering notifications.room within the sender's level", rvs=versions(6))
def lower_notifications_v6(rv: RoomVersion) -> R:
    return _change(
        rv,
        {"users": {DAVE: 60}, "notifications": {"room": 50}},
        {"users": {DAVE: 60}, "notifications": {"room": 10}},
    )


# ---- 9.8/9.9: users ---------------------------------------------------------------


@T.case("9.9: promoting a user up to the sender's level")
def promote_to_own_level(rv: RoomVersion) -> R:
    return _change(rv, {"users": {DAVE: 60}}, {"users": {DAVE: 60, BOB: 60}})


@T.case("9.9: promoting a user above the sender's level", "power_levels/users")
def promote_above_own(rv: RoomVersion) -> R:
    return _change(rv, {"users": {DAVE: 60}}, {"users": {DAVE: 60, BOB: 61}})


@T.case("9.8: demoting a user at the sender's level", "power_levels/users")
def demote_peer(rv: RoomVersion) -> R:
    return _change(rv, {"users": {DAVE: 60, BOB: 60}}, {"users": {DAVE: 60, BOB: 0}})


@T.case("9.8: removing a user at the sender's level", "power_levels/users")
def remove_peer(rv: RoomVersion) -> R:
    return _change(rv, {"users": {DAVE: 60, BOB: 60}}, {"users": {DAVE: 60}})


@T.case("9.8: demoting a user below the sender's level")
def demote_junior(rv: RoomVersion) -> R:
    return _change(rv, {"users": {DAVE: 60, BOB: 59}}, {"users": {DAVE: 60, BOB: 0}})


@T.case("9.8: the sender may demote themselves")
def demote_self(rv: RoomVersion) -> R:
    return _change(rv, {"users": {DAVE: 60}}, {"users": {DAVE: 1}})


@T.case("9.9: the sender may not promote themselves", "power_levels/users")
def promote_self(rv: RoomVersion) -> R:
    return _change(rv, {"users": {DAVE: 60}}, {"users": {DAVE: 61}})


@T.case(
    "v1-v11: an admin at 100 cannot demote another admin at 100",
    "power_levels/users",
    versions(1, 11),
)
def admin_vs_admin(rv: RoomVersion) -> R:
    return _change(rv, {"users": {DAVE: 100, CAROL: 100}}, {"users": {DAVE: 100, CAROL: 50}})


@T.case("v12: a creator may demote anyone, whatever their level", rvs=versions(12))
def v12_creator_demotes(rv: RoomVersion) -> R:
    return _change(rv, {"users": {CAROL: 2**53 - 1}}, {"users": {CAROL: 0}}, sender=ALICE)


@T.case("v12: a creator may set any level", rvs=versions(12))
def v12_creator_sets_max(rv: RoomVersion) -> R:
    return _change(rv, {}, {"users": {CAROL: 2**53 - 1}, "ban": 2**53 - 1}, sender=ALICE)


@T.case("7: sending m.room.power_levels needs its required level", "required_power_level")
def pl_below_required(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(BOB, "join")
    return r, r.event("m.room.power_levels", BOB, {"users": _creator_users(rv)}, "")


@pytest.mark.parametrize(("c", "rv"), T.params())
def test_power_levels_rule(c: Case, rv: RoomVersion) -> None:
    run_case(c, rv)


# ---- value parsing ----------------------------------------------------------------

V1, V5, V6, V9, V10 = (KNOWN_ROOM_VERSIONS[n] for n in ("1", "5", "6", "9", "10"))

PARSE_TABLE: list[tuple[Any, int | None, int | None, int | None]] = [
    # value, v1-v5, v6-v9, v10+
    (50, 50, 50, 50),
    (-3, -3, -3, -3),
    ("50", 50, 50, None),
    ("000100", 100, 100, None),
    ("+100", 100, 100, None),
    ("-100", -100, -100, None),
    (" 00100 ", 100, 100, None),
    ("\t-7\n", -7, -7, None),
    ("1e3", None, None, None),
    ("50.0", None, None, None),
    ("", None, None, None),
    (" ", None, None, None),
    ("+-1", None, None, None),
    ("1_000", None, None, None),
    ("\u0661\u0660", None, None, None),  # Arabic-Indic digits are not base-10 ASCII
    (50.57, 50, None, None),
    (5.114698e4, 51146, None, None),
    (-2.9, -2, None, None),
    (math.nan, None, None, None),
    (-math.inf, None, None, None),
    (True, None, None, None),
    (None, None, None, None),
    ([50], None, None, None),
    ({"level": 50}, None, None, None),
]


@pytest.mark.parametrize(("value", "old", "mid", "new"), PARSE_TABLE)
def test_parse_power_level(value: Any, old: int | None, mid: int | None, new: int | None) -> None:
    assert parse_power_level(value, V1) == old
    assert parse_power_level(value, V5) == old
    assert parse_power_level(value, V6) == mid
    assert parse_power_level(value, V9) == mid
    assert parse_power_level(value, V10) == new


# ---- reading levels ---------------------------------------------------------------


@pytest.mark.parametrize("rv", ALL, ids=lambda rv: "v" + rv.identifier)
def test_levels_without_power_levels_event(rv: RoomVersion) -> None:
    """client-server-api m.room.power_levels: creator 100 (v1-v11) or infinite (v12),
    others 0; kick/ban/redact 50, invite 0, state_default 50, events_default 0."""
    r = Room(rv)
    creator_level = get_user_power_level(ALICE, r.state)
    assert creator_level == (math.inf if rv.privileged_creators else 100)
    assert get_user_power_level(BOB, r.state) == 0
    assert [get_named_power_level(n, r.state) for n in ("invite", "kick", "ban", "redact")] == [
        0,
        50,
        50,
        50,
    ]
    assert get_required_power_level("m.room.name", "", r.state) == 50
    assert get_required_power_level("m.room.message", None, r.state) == 0


@pytest.mark.parametrize("rv", ALL, ids=lambda rv: "v" + rv.identifier)
def test_levels_read_from_power_levels_event(rv: RoomVersion) -> None:
    r = Room(rv)
    r.set_power_levels(
        {
            "users": {BOB: 7},
            "users_default": 3,
            "ban": 11,
            "events": {"m.room.name": 12},
            "state_default": 13,
            "events_default": 14,
        }
    )
    assert get_user_power_level(BOB, r.state) == 7
    assert get_user_power_level(CAROL, r.state) == 3
    assert get_user_power_level(ALICE, r.state) == (math.inf if rv.privileged_creators else 3)
    assert get_named_power_level("ban", r.state) == 11
    assert get_named_power_level("kick", r.state) == 50
    assert get_required_power_level("m.room.name", "", r.state) == 12
    assert get_required_power_level("m.room.name", None, r.state) == 12
    assert get_required_power_level("m.room.topic", "", r.state) == 13
    assert get_required_power_level("m.room.message", None, r.state) == 14


@pytest.mark.parametrize("rv", versions(1, 9), ids=lambda rv: "v" + rv.identifier)
def test_unparseable_state_values_fall_back_to_defaults(rv: RoomVersion) -> None:
    """A first power levels event may carry junk in v1-v9 (only users is checked);
    reading treats such values as absent."""
    r = Room(rv)
    r.set_power_levels({"users": {BOB: "7"}, "ban": "lots", "users_default": "x"})
    assert get_user_power_level(BOB, r.state) == 7
    assert get_user_power_level(CAROL, r.state) == 0
    assert get_named_power_level("ban", r.state) == 50


@pytest.mark.parametrize(
    ("rv_id", "content", "sender", "expected"),
    [
        ("1", {"creator": BOB}, ALICE, {BOB}),
        ("10", {"creator": BOB}, ALICE, {BOB}),
        ("10", {}, ALICE, {ALICE}),
        ("11", {"creator": BOB}, ALICE, {ALICE}),
        ("11", {"additional_creators": [BOB]}, ALICE, {ALICE}),
        ("12", {"additional_creators": [BOB, CAROL]}, ALICE, {ALICE, BOB, CAROL}),
        ("12", {"creator": BOB}, ALICE, {ALICE}),
        ("12", {}, DAVE, {DAVE}),
    ],
)
def test_get_creators(rv_id: str, content: dict[str, Any], sender: str, expected: set[str]) -> None:
    rv = KNOWN_ROOM_VERSIONS[rv_id]
    r = Room(rv)
    create = r.make_create(sender, content)
    assert get_creators(create) == frozenset(expected)

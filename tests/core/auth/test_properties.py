"""Property tests of the auth rules (hypothesis).

* rooms/v* rule 7: a joined user whose level is at least the required level of
  a message type may always send it (and one below it never may);
* rule 4.3.3: a banned user can never join, whatever the join rule, levels or
  content;
* robustness: arbitrary JSON in power levels and member events yields allow or
  :class:`AuthError`, never another exception.
"""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ranvier.core.auth import AuthError, check_auth_rules
from ranvier.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from tests.core.auth.roombuilder import ALICE, BOB, CAROL, Room, standard_room

room_versions = st.sampled_from(list(KNOWN_ROOM_VERSIONS.values()))
levels = st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
event_types = st.sampled_from(["m.room.message", "m.reaction", "org.example.x", "m.room.encrypted"])
join_rules = st.sampled_from(
    ["public", "invite", "knock", "restricted", "knock_restricted", "private", ""]
)
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**60), 2**60),
    st.text(max_size=8),
    st.floats(allow_nan=True),
)
json_values = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300)
@given(rv=room_versions, user_level=levels, required=levels, etype=event_types, default=levels)
def test_message_allowed_iff_level_suffices(
    rv: RoomVersion, user_level: int, required: int, etype: str, default: int
) -> None:
    room = standard_room(
        rv, users={BOB: user_level}, events={etype: required}, events_default=default
    )
    room.set_member(BOB, "join")
    event = room.event(etype, BOB, {"body": "x"})
    if user_level >= required:
        check_auth_rules(event, room.state)
    else:
        try:
            check_auth_rules(event, room.state)
        except AuthError as e:
            assert e.rule == "required_power_level"
        else:
            raise AssertionError("a message below the required level was allowed")


@settings(max_examples=300)
@given(
    rv=room_versions,
    rule=join_rules,
    bob_level=levels,
    extra=st.dictionaries(
        st.sampled_from(["join_authorised_via_users_server", "displayname", "reason"]),
        st.sampled_from([CAROL, ALICE, BOB, "x"]),
    ),
    creator_join=st.booleans(),
)
def test_banned_user_never_joins(
    rv: RoomVersion, rule: str, bob_level: int, extra: dict[str, Any], creator_join: bool
) -> None:
    room = standard_room(rv, rule, users={BOB: bob_level})
    room.set_member(CAROL, "join")
    room.set_member(BOB, "ban", sender=ALICE)
    signatures = {
        "b.test": {"ed25519:k": "s"},
        "c.test": {"ed25519:k": "s"},
        "a.test": {"ed25519:k": "s"},
    }
    prev = [room.create.event_id] if creator_join else None
    join = room.member(BOB, "join", content=extra, signatures=signatures, prev=prev)
    try:
        check_auth_rules(join, room.state)
    except AuthError:
        return
    raise AssertionError("a banned user joined")


@settings(max_examples=300)
@given(rv=room_versions, old=json_values, new=json_values, sender_level=levels)
def test_power_levels_never_crash(rv: RoomVersion, old: Any, new: Any, sender_level: int) -> None:
    room = Room(rv)
    room.set_member(ALICE, "join")
    old_content = old if isinstance(old, dict) else {"users": old, "ban": old}
    room.set_power_levels({**old_content, "events": {"m.room.power_levels": -(2**53) + 1}})
    room.set_member(BOB, "join")
    new_content = new if isinstance(new, dict) else {"events": new, "notifications": new}
    event = room.event("m.room.power_levels", BOB, new_content, "")
    with contextlib.suppress(AuthError):
        check_auth_rules(event, room.state)


@settings(max_examples=300)
@given(
    rv=room_versions,
    rule=join_rules,
    content=st.dictionaries(
        st.sampled_from(
            ["membership", "third_party_invite", "join_authorised_via_users_server", "displayname"]
        ),
        json_values | st.sampled_from(["join", "invite", "leave", "ban", "knock", CAROL]),
    ),
    target=st.sampled_from([ALICE, BOB, CAROL]),
)
def test_member_events_never_crash(
    rv: RoomVersion, rule: str, content: dict[str, Any], target: str
) -> None:
    room = standard_room(rv, rule)
    room.set_member(CAROL, "join")
    event = room.event("m.room.member", BOB, content, target)
    with contextlib.suppress(AuthError):
        check_auth_rules(event, room.state)

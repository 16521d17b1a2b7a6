"""Table of m.room.member cases: rooms/v1 rule 5, rooms/v3-v11 rule 4, rooms/v12 rule 5.

Rule numbers in ``spec`` strings use the v8-v11 numbering (4.1 shape, 4.2 the
authorising server's signature, 4.3 join, 4.4 invite, 4.5 leave, 4.6 ban,
4.7 knock, 4.8 unknown).
"""

from __future__ import annotations

from typing import Any

import pytest

from ranvier.core.events import Event
from ranvier.core.room_versions import RoomVersion
from tests.core.auth.cases import ALL, Case, Table, run_case, versions
from tests.core.auth.roombuilder import ALICE, BOB, CAROL, DAVE, Room, standard_room

T = Table()
R = tuple[Room, Event]
SIGNED_BY_B_AND_C = {"b.test": {"ed25519:k": "x"}, "c.test": {"ed25519:k": "x"}}


# ---- 4.1 shape ------------------------------------------------------------------


@T.case("4.1: no membership in content", expect="member")
def no_membership(rv: RoomVersion) -> R:
    r = standard_room(rv)
    return r, r.event("m.room.member", BOB, {}, BOB)


@T.case("4.1: member event without state_key", expect="member")
def member_without_state_key(rv: RoomVersion) -> R:
    r = standard_room(rv)
    return r, r.event("m.room.member", BOB, {"membership": "join"})


@T.case("4.8: unknown membership is rejected", expect="member")
def unknown_membership(rv: RoomVersion) -> R:
    r = standard_room(rv)
    return r, r.member(ALICE, "frobnicate", BOB)


# ---- 4.3 join -------------------------------------------------------------------


@T.case("4.3.1: creator's join when the only previous event is the create event")
def creator_first_join(rv: RoomVersion) -> R:
    r = Room(rv)
    return r, r.member(ALICE, "join", prev=[r.create.event_id])


@T.case("4.3.1: first join needs the create event as the ONLY prev event", expect="member/join")
def creator_join_two_prevs(rv: RoomVersion) -> R:
    r = Room(rv)
    return r, r.member(ALICE, "join", prev=[r.create.event_id, "$other"])


@T.case("4.3.1: a non-creator gets no first-join exemption", expect="member/join")
def non_creator_first_join(rv: RoomVersion) -> R:
    r = Room(rv)
    return r, r.member(BOB, "join", prev=[r.create.event_id])


@T.case("v1-v10 4.3.1: the creator is content.creator, not the sender", rvs=versions(1, 10))
def content_creator_first_join(rv: RoomVersion) -> R:
    r = Room(rv, create_content={"creator": BOB})
    return r, r.member(BOB, "join", prev=[r.create.event_id])


@T.case(
    "v11+ 4.3.1: the creator is the create sender; content.creator means nothing",
    expect="member/join",
    rvs=versions(11),
)
def content_creator_ignored_v11(rv: RoomVersion) -> R:
    r = Room(rv, create_content={"creator": BOB})
    return r, r.member(BOB, "join", prev=[r.create.event_id])


@T.case(
    "v12 5.3.1: only the create sender, not an additional creator, gets the first join",
    "member/join",
    versions(12),
)
def v12_additional_creator_first_join(rv: RoomVersion) -> R:
    r = Room(rv, create_content={"additional_creators": [BOB]})
    return r, r.member(BOB, "join", prev=[r.create.event_id])


@T.case("4.3.7: a join_rule that is not a string allows nobody", "member/join")
def join_rule_not_string(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.put(r.event("m.room.join_rules", ALICE, {"join_rule": ["public"]}, ""))
    return r, r.member(BOB, "join")


@T.case("4.3.2: sender must match state_key", expect="member/join")
def join_for_someone_else(rv: RoomVersion) -> R:
    r = standard_room(rv)
    return r, r.member(ALICE, "join", BOB)


@T.case("4.3.3: a banned user cannot join a public room", expect="member/join")
def banned_join_public(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(BOB, "ban", sender=ALICE)
    return r, r.member(BOB, "join")


@T.case("4.3.6: anyone may join a public room")
def public_join(rv: RoomVersion) -> R:
    r = standard_room(rv)
    return r, r.member(BOB, "join")


@T.case("4.3.6: a user who left may rejoin a public room")
def public_rejoin(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(BOB, "leave")
    return r, r.member(BOB, "join")


@T.case("4.3.4: invite-only room, not invited", expect="member/join")
def invite_only_uninvited(rv: RoomVersion) -> R:
    r = standard_room(rv, "invite")
    return r, r.member(BOB, "join")


@T.case("4.3.4: invite-only room, invited")
def invite_only_invited(rv: RoomVersion) -> R:
    r = standard_room(rv, "invite")
    r.set_member(BOB, "invite", sender=ALICE)
    return r, r.member(BOB, "join")


@T.case("4.3.4: invite-only room, already joined (join -> join)")
def invite_only_rejoin_while_joined(rv: RoomVersion) -> R:
    r = standard_room(rv, "invite")
    r.set_member(BOB, "join")
    return r, r.member(BOB, "join", content={"displayname": "Bob"})


@T.case("4.3.4: without m.room.join_rules the room is invite-only", expect="member/join")
def no_join_rules_uninvited(rv: RoomVersion) -> R:
    r = Room(rv)
    r.set_member(ALICE, "join")
    return r, r.member(BOB, "join")


@T.case("4.3.4: without m.room.join_rules an invited user may join")
def no_join_rules_invited(rv: RoomVersion) -> R:
    r = Room(rv)
    r.set_member(ALICE, "join")
    r.set_member(BOB, "invite", sender=ALICE)
    return r, r.member(BOB, "join")


@T.case("4.3.7: join_rule private allows nobody", expect="member/join")
def private_join(rv: RoomVersion) -> R:
    r = standard_room(rv, "private")
    r.set_member(BOB, "invite", sender=ALICE)
    return r, r.member(BOB, "join")


@T.case("v7+ 4.3.4: join_rule knock admits invited users", rvs=versions(7))
def knock_rule_invited_join(rv: RoomVersion) -> R:
    r = standard_room(rv, "knock")
    r.set_member(BOB, "invite", sender=ALICE)
    return r, r.member(BOB, "join")


@T.case("v7+ 4.3.4: join_rule knock rejects the uninvited", "member/join", versions(7))
def knock_rule_uninvited_join(rv: RoomVersion) -> R:
    r = standard_room(rv, "knock")
    r.set_member(BOB, "knock")
    return r, r.member(BOB, "join")


@T.case(
    "v1-v6: join_rule knock is unknown, even invited users are rejected",
    "member/join",
    versions(1, 6),
)
def knock_rule_before_v7(rv: RoomVersion) -> R:
    r = standard_room(rv, "knock")
    r.set_member(BOB, "invite", sender=ALICE)
    return r, r.member(BOB, "join")


def _restricted(rv: RoomVersion, rule: str = "restricted", **pl: Any) -> Room:
    r = standard_room(rv, rule, **pl)
    r.set_member(CAROL, "join")
    return r


def _authorised_join(r: Room, authoriser: str = CAROL, signatures: object = None) -> Event:
    return r.member(
        BOB,
        "join",
        content={"join_authorised_via_users_server": authoriser},
        signatures=signatures if signatures is not None else SIGNED_BY_B_AND_C,
    )


@T.case(
    "v8+ 4.3.5.3: restricted join authorised by a joined member who can invite", rvs=versions(8)
)
def restricted_authorised(rv: RoomVersion) -> R:
    r = _restricted(rv)
    return r, _authorised_join(r)


@T.case("v8+ 4.3.5.1: restricted room, invited user needs no authoriser", rvs=versions(8))
def restricted_invited(rv: RoomVersion) -> R:
    r = _restricted(rv)
    r.set_member(BOB, "invite", sender=ALICE)
    return r, r.member(BOB, "join")


@T.case("v8+ 4.3.5.1: restricted room, joined user may update their join", rvs=versions(8))
def restricted_already_joined(rv: RoomVersion) -> R:
    r = _restricted(rv)
    r.set_member(BOB, "join")
    return r, r.member(BOB, "join", content={"displayname": "B"})


@T.case(
    "v8+ 4.3.5.2: restricted join without join_authorised_via_users_server",
    "member/join/restricted",
    versions(8),
)
def restricted_no_authoriser(rv: RoomVersion) -> R:
    r = _restricted(rv)
    return r, r.member(BOB, "join")


@T.case("v8+ 4.3.5.2: the authorising user is not joined", "member/join/restricted", versions(8))
def restricted_authoriser_not_joined(rv: RoomVersion) -> R:
    r = _restricted(rv)
    r.set_member(CAROL, "leave")
    return r, _authorised_join(r)


@T.case("v8+ 4.3.5.2: the authorising user cannot invite", "member/join/restricted", versions(8))
def restricted_authoriser_cannot_invite(rv: RoomVersion) -> R:
    r = _restricted(rv, invite=50)
    return r, _authorised_join(r)


@T.case("v8+ 4.3.5.2: the authorising user's level equals the invite level", rvs=versions(8))
def restricted_authoriser_exactly_invite_level(rv: RoomVersion) -> R:
    r = standard_room(rv, "restricted", users={CAROL: 50}, invite=50)
    r.set_member(CAROL, "join")
    return r, _authorised_join(r)


@T.case("v12 4.3.5: a room creator (infinite power) may authorise", rvs=versions(12))
def restricted_authorised_by_creator(rv: RoomVersion) -> R:
    r = standard_room(rv, "restricted", invite=100)
    return r, _authorised_join(r, ALICE, {"b.test": {}, "a.test": {"ed25519:k": "x"}})


@T.case("v8+ 4.3.3: a banned user cannot join even when authorised", "member/join", versions(8))
def restricted_banned(rv: RoomVersion) -> R:
    r = _restricted(rv)
    r.set_member(BOB, "ban", sender=ALICE)
    return r, _authorised_join(r)


@T.case(
    "v8+ 4.2: the authorising user's server must have signed the join",
    "member/authorising_signature",
    versions(8),
)
def restricted_unsigned_by_authoriser(rv: RoomVersion) -> R:
    r = _restricted(rv)
    return r, _authorised_join(r, signatures={"b.test": {"ed25519:k": "x"}})


@T.case(
    "v8+ 4.2: join_authorised_via_users_server must be a user id",
    "member/authorising_signature",
    versions(8),
)
def restricted_authoriser_not_a_user(rv: RoomVersion) -> R:
    r = _restricted(rv)
    return r, r.member(BOB, "join", content={"join_authorised_via_users_server": 7})


@T.case(
    "v8+ 4.2: the signature requirement applies in public rooms too",
    "member/authorising_signature",
    versions(8),
)
def authoriser_signature_public(rv: RoomVersion) -> R:
    r = standard_room(rv)
    return r, _authorised_join(r, signatures={"b.test": {"ed25519:k": "x"}})


@T.case("v1-v7: join_authorised_via_users_server has no meaning", rvs=versions(1, 7))
def authoriser_ignored_before_v8(rv: RoomVersion) -> R:
    r = standard_room(rv)
    return r, _authorised_join(r, signatures={"b.test": {"ed25519:k": "x"}})


@T.case(
    "v1-v7: join_rule restricted is unknown, invited users are rejected",
    "member/join",
    versions(1, 7),
)
def restricted_before_v8(rv: RoomVersion) -> R:
    r = _restricted(rv)
    r.set_member(BOB, "invite", sender=ALICE)
    return r, r.member(BOB, "join")


@T.case("v10+ 4.3.5: knock_restricted join authorised by a member", rvs=versions(10))
def knock_restricted_authorised(rv: RoomVersion) -> R:
    r = _restricted(rv, "knock_restricted")
    return r, _authorised_join(r)


@T.case(
    "v10+ 4.3.5.2: knock_restricted join without authoriser", "member/join/restricted", versions(10)
)
def knock_restricted_unauthorised(rv: RoomVersion) -> R:
    r = _restricted(rv, "knock_restricted")
    return r, r.member(BOB, "join")


@T.case("v1-v9: join_rule knock_restricted is unknown", "member/join", versions(1, 9))
def knock_restricted_before_v10(rv: RoomVersion) -> R:
    r = _restricted(rv, "knock_restricted")
    r.set_member(BOB, "invite", sender=ALICE)
    return r, _authorised_join(r)


# ---- 4.4 invite -----------------------------------------------------------------


@T.case("4.4.4: a joined member with enough power invites")
def invite_ok(rv: RoomVersion) -> R:
    r = standard_room(rv, "invite")
    return r, r.member(ALICE, "invite", BOB)


@T.case("4.4.4: invite level 0 by default lets ordinary members invite")
def invite_by_ordinary_member(rv: RoomVersion) -> R:
    r = standard_room(rv, "invite")
    r.set_member(DAVE, "join")
    return r, r.member(DAVE, "invite", BOB)


@T.case("4.4.2: the sender must be joined", "member/invite")
def invite_by_non_member(rv: RoomVersion) -> R:
    r = standard_room(rv, "invite")
    return r, r.member(DAVE, "invite", BOB)


@T.case("4.4.2: an invited (not joined) sender cannot invite", "member/invite")
def invite_by_invitee(rv: RoomVersion) -> R:
    r = standard_room(rv, "invite")
    r.set_member(DAVE, "invite", sender=ALICE)
    return r, r.member(DAVE, "invite", BOB)


@T.case("4.4.3: the target is already joined", "member/invite")
def invite_joined_target(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(BOB, "join")
    return r, r.member(ALICE, "invite", BOB)


@T.case("4.4.3: the target is banned", "member/invite")
def invite_banned_target(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(BOB, "ban", sender=ALICE)
    return r, r.member(ALICE, "invite", BOB)


@T.case("4.4.3: re-inviting an invited user is allowed")
def reinvite(rv: RoomVersion) -> R:
    r = standard_room(rv, "invite")
    r.set_member(BOB, "invite", sender=ALICE)
    return r, r.member(ALICE, "invite", BOB)


@T.case("4.4.5: the sender's level is below the invite level", "member/invite")
def invite_insufficient_power(rv: RoomVersion) -> R:
    r = standard_room(rv, "invite", invite=50)
    r.set_member(DAVE, "join")
    return r, r.member(DAVE, "invite", BOB)


@T.case("v7+ 4.4: a user who knocked may be invited", rvs=versions(7))
def invite_knocker(rv: RoomVersion) -> R:
    r = standard_room(rv, "knock")
    r.set_member(BOB, "knock")
    return r, r.member(ALICE, "invite", BOB)


@T.case("v12: a creator absent from users has infinite power to invite", rvs=versions(12))
def invite_by_v12_creator_high_level(rv: RoomVersion) -> R:
    r = standard_room(rv, "invite", invite=1_000_000)
    return r, r.member(ALICE, "invite", BOB)


# ---- 4.5 leave ------------------------------------------------------------------


@T.case("4.5.1: a joined user leaves")
def leave_self(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(BOB, "join")
    return r, r.member(BOB, "leave")


@T.case("4.5.1: an invited user rejects the invite")
def reject_invite(rv: RoomVersion) -> R:
    r = standard_room(rv, "invite")
    r.set_member(BOB, "invite", sender=ALICE)
    return r, r.member(BOB, "leave")


@T.case("4.5.1: a user who is not in the room cannot leave", "member/leave")
def leave_when_absent(rv: RoomVersion) -> R:
    r = standard_room(rv)
    return r, r.member(BOB, "leave")


@T.case("4.5.1: leaving twice is rejected", "member/leave")
def leave_twice(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(BOB, "leave")
    return r, r.member(BOB, "leave")


@T.case("4.5.1: a banned user cannot unban themselves by leaving", "member/leave")
def banned_self_leave(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(BOB, "ban", sender=ALICE)
    return r, r.member(BOB, "leave")


@T.case("v7+ 4.5.1: a knocking user may withdraw the knock", rvs=versions(7))
def rescind_knock(rv: RoomVersion) -> R:
    r = standard_room(rv, "knock")
    r.set_member(BOB, "knock")
    return r, r.member(BOB, "leave")


@T.case("v1-v6 5.4.1: knock is no membership a user may leave from", "member/leave", versions(1, 6))
def rescind_knock_before_v7(rv: RoomVersion) -> R:
    r = standard_room(rv, "knock")
    r.set_member(BOB, "knock")
    return r, r.member(BOB, "leave")


@T.case("4.5.4: kick by a sender above kick level and above the target")
def kick_ok(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(BOB, "join")
    return r, r.member(ALICE, "leave", BOB)


@T.case("4.5.4: kicking an invited user (revoking the invite)")
def revoke_invite(rv: RoomVersion) -> R:
    r = standard_room(rv, "invite")
    r.set_member(BOB, "invite", sender=ALICE)
    return r, r.member(ALICE, "leave", BOB)


@T.case("4.5.2: a kicker who is not joined", "member/leave")
def kick_by_non_member(rv: RoomVersion) -> R:
    r = standard_room(rv, users={DAVE: 100})
    r.set_member(BOB, "join")
    return r, r.member(DAVE, "leave", BOB)


@T.case("4.5.5: sender below the kick level", "member/leave")
def kick_below_kick_level(rv: RoomVersion) -> R:
    r = standard_room(rv, users={DAVE: 40})
    r.set_member(DAVE, "join")
    r.set_member(BOB, "join")
    return r, r.member(DAVE, "leave", BOB)


@T.case("4.5.5: target's level equal to the sender's", "member/leave")
def kick_equal_level(rv: RoomVersion) -> R:
    r = standard_room(rv, users={DAVE: 50, BOB: 50})
    r.set_member(DAVE, "join")
    r.set_member(BOB, "join")
    return r, r.member(DAVE, "leave", BOB)


@T.case("4.5.4: kick with exactly the kick level, target below")
def kick_at_kick_level(rv: RoomVersion) -> R:
    r = standard_room(rv, users={DAVE: 50, BOB: 49})
    r.set_member(DAVE, "join")
    r.set_member(BOB, "join")
    return r, r.member(DAVE, "leave", BOB)


@T.case("4.5.4: unban needs the ban level and the kick level")
def unban_ok(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(BOB, "ban", sender=ALICE)
    return r, r.member(ALICE, "leave", BOB)


@T.case("4.5.3: unban by a sender below the ban level", "member/leave")
def unban_below_ban_level(rv: RoomVersion) -> R:
    r = standard_room(rv, users={DAVE: 50}, ban=60, kick=10)
    r.set_member(DAVE, "join")
    r.set_member(BOB, "ban", sender=ALICE)
    return r, r.member(DAVE, "leave", BOB)


@T.case("4.5.5: unban by a sender with the ban level but below the kick level", "member/leave")
def unban_below_kick_level(rv: RoomVersion) -> R:
    r = standard_room(rv, users={DAVE: 50}, ban=10, kick=60)
    r.set_member(DAVE, "join")
    r.set_member(BOB, "ban", sender=ALICE)
    return r, r.member(DAVE, "leave", BOB)


@T.case("v12 4.5.4: a creator kicks a user with level 100", rvs=versions(12))
def v12_creator_kicks_100(rv: RoomVersion) -> R:
    r = standard_room(rv, users={BOB: 100})
    r.set_member(BOB, "join")
    return r, r.member(ALICE, "leave", BOB)


@T.case("v12 4.5.5: nobody outranks an additional creator", "member/leave", versions(12))
def v12_cannot_kick_additional_creator(rv: RoomVersion) -> R:
    r = Room(rv, create_content={"additional_creators": [BOB]})
    r.set_member(ALICE, "join")
    r.set_member(BOB, "join")
    r.set_power_levels({"users": {DAVE: 1_000_000}})
    r.set_member(DAVE, "join")
    return r, r.member(DAVE, "leave", BOB)


@T.case(
    "v12 4.5.5: creators cannot kick each other (equal, infinite levels)",
    "member/leave",
    versions(12),
)
def v12_creator_vs_creator(rv: RoomVersion) -> R:
    r = Room(rv, create_content={"additional_creators": [BOB]})
    r.set_member(ALICE, "join")
    r.set_member(BOB, "join")
    return r, r.member(ALICE, "leave", BOB)


# ---- 4.6 ban --------------------------------------------------------------------


@T.case("4.6.2: ban by a sender with the ban level, above the target")
def ban_ok(rv: RoomVersion) -> R:
    r = standard_room(rv)
    r.set_member(BOB, "join")
    return r, r.member(ALICE, "ban", BOB)


@T.case("4.6.2: banning a user who never joined")
def ban_stranger(rv: RoomVersion) -> R:
    r = standard_room(rv)
    return r, r.member(ALICE, "ban", BOB)


@T.case("4.6.1: the banning sender must be joined", "member/ban")
def ban_by_non_member(rv: RoomVersion) -> R:
    r = standard_room(rv, users={DAVE: 100})
    return r, r.member(DAVE, "ban", BOB)


@T.case("4.6.3: sender below the ban level", "member/ban")
def ban_below_level(rv: RoomVersion) -> R:
    r = standard_room(rv, users={DAVE: 49})
    r.set_member(DAVE, "join")
    return r, r.member(DAVE, "ban", BOB)


@T.case("4.6.3: target at the sender's level", "member/ban")
def ban_equal_level(rv: RoomVersion) -> R:
    r = standard_room(rv, users={DAVE: 60, BOB: 60})
    r.set_member(DAVE, "join")
    r.set_member(BOB, "join")
    return r, r.member(DAVE, "ban", BOB)


@T.case("4.6.3: a sender cannot ban themselves (equal levels)", "member/ban")
def ban_self(rv: RoomVersion) -> R:
    r = standard_room(rv)
    return r, r.member(ALICE, "ban", ALICE)


@T.case("4.6.2: custom ban level honoured", rvs=ALL)
def ban_custom_level(rv: RoomVersion) -> R:
    r = standard_room(rv, users={DAVE: 10}, ban=10)
    r.set_member(DAVE, "join")
    return r, r.member(DAVE, "ban", BOB)


# ---- 4.7 knock ------------------------------------------------------------------


@T.case("v7+ 4.7.3: knock on a knock room", rvs=versions(7))
def knock_ok(rv: RoomVersion) -> R:
    r = standard_room(rv, "knock")
    return r, r.member(BOB, "knock")


@T.case("v7+ 4.7.3: knock again after leaving", rvs=versions(7))
def knock_after_leave(rv: RoomVersion) -> R:
    r = standard_room(rv, "knock")
    r.set_member(BOB, "leave")
    return r, r.member(BOB, "knock")


@T.case("v1-v6: knock is an unknown membership", "member", versions(1, 6))
def knock_before_v7(rv: RoomVersion) -> R:
    r = standard_room(rv, "knock")
    return r, r.member(BOB, "knock")


@T.case("v7+ 4.7.1: knock on a public room", "member/knock", versions(7))
def knock_public(rv: RoomVersion) -> R:
    r = standard_room(rv, "public")
    return r, r.member(BOB, "knock")


@T.case("v7+ 4.7.1: knock on an invite-only room", "member/knock", versions(7))
def knock_invite_only(rv: RoomVersion) -> R:
    r = standard_room(rv, "invite")
    return r, r.member(BOB, "knock")


@T.case("v7+ 4.7.2: knocking on behalf of someone else", "member/knock", versions(7))
def knock_for_other(rv: RoomVersion) -> R:
    r = standard_room(rv, "knock")
    return r, r.member(ALICE, "knock", BOB)


@T.case("v7+ 4.7.4: an invited user cannot knock", "member/knock", versions(7))
def knock_when_invited(rv: RoomVersion) -> R:
    r = standard_room(rv, "knock")
    r.set_member(BOB, "invite", sender=ALICE)
    return r, r.member(BOB, "knock")


@T.case("v7+ 4.7.4: a joined user cannot knock", "member/knock", versions(7))
def knock_when_joined(rv: RoomVersion) -> R:
    r = standard_room(rv, "knock")
    r.set_member(BOB, "join")
    return r, r.member(BOB, "knock")


@T.case("v7+ 4.7.4: a banned user cannot knock", "member/knock", versions(7))
def knock_when_banned(rv: RoomVersion) -> R:
    r = standard_room(rv, "knock")
    r.set_member(BOB, "ban", sender=ALICE)
    return r, r.member(BOB, "knock")


@T.case("v7+ 4.7.3: knocking twice is allowed (knock is not ban/invite/join)", rvs=versions(7))
def knock_twice(rv: RoomVersion) -> R:
    r = standard_room(rv, "knock")
    r.set_member(BOB, "knock")
    return r, r.member(BOB, "knock")


@T.case("v10+ 4.7.1: knock on a knock_restricted room", rvs=versions(10))
def knock_knock_restricted(rv: RoomVersion) -> R:
    r = standard_room(rv, "knock_restricted")
    return r, r.member(BOB, "knock")


@T.case("v7-v9 4.7.1: knock_restricted does not admit knocks", "member/knock", versions(7, 9))
def knock_knock_restricted_before_v10(rv: RoomVersion) -> R:
    r = standard_room(rv, "knock_restricted")
    return r, r.member(BOB, "knock")


@T.case("v8+ 4.7.1: knock on a restricted room", "member/knock", versions(8))
def knock_restricted(rv: RoomVersion) -> R:
    r = standard_room(rv, "restricted")
    return r, r.member(BOB, "knock")


@pytest.mark.parametrize(("c", "rv"), T.params())
def test_membership(c: Case, rv: RoomVersion) -> None:
    run_case(c, rv)

"""The ``m.room.member`` authorization rule, one function per membership.

Spec: rooms/v1 rule 5 (v1-v2), rooms/v3-v11 rule 4 (fragments v3-auth-rules,
v8-auth-rules; rooms/v7, v10, v11 pages), rooms/v12 rule 5. What changes by room
version, read from :class:`~ranvier.core.room_versions.RoomVersion` flags:

* ``knock_allowed`` (v7): the ``knock`` membership; the ``knock`` join rule
  admits invited users; an outstanding knock may be withdrawn with ``leave``;
* ``restricted_join_rule`` (v8): the ``restricted`` join rule and the
  ``join_authorised_via_users_server`` property, whose server must have signed
  the event;
* ``knock_restricted_join_rule`` (v10): ``knock_restricted`` behaves like
  ``restricted`` for joins and like ``knock`` for knocks;
* ``implicit_room_creator`` (v11): the creator's first join is recognised by
  the create event's ``sender`` instead of ``content.creator``.

A user with no ``m.room.member`` event in the state has membership ``leave``.
A room without ``m.room.join_rules`` is treated as ``invite`` (the spec is
silent; this matches deployed servers, and the creator's first join does not
depend on it).

Theory of the restricted-join signature check (rule 4.2): the pure rules cannot
verify cryptography against server keys, so they require that the event's
``signatures`` contain an entry for the authorising user's server; the
signature-checking stage that runs before auth (server-server-api "Checks
performed on receipt of a PDU", step 2) must verify that entry like the
sender's.
"""

from __future__ import annotations

from collections.abc import Mapping

from ranvier.core.auth._ids import domain_of
from ranvier.core.auth.errors import AuthError
from ranvier.core.auth.power_levels import (
    CREATE_KEY,
    get_named_power_level,
    get_user_power_level,
)
from ranvier.core.auth.third_party_invite import check_third_party_invite
from ranvier.core.events import Event, StateKey

AUTHORISING_USER = "join_authorised_via_users_server"
"""Content key of restricted joins (rooms/v8)."""


def membership_of(user_id: str, state: Mapping[StateKey, Event]) -> str:
    """The current membership of ``user_id`` in ``state``: ``leave`` if none."""
    ev = state.get(("m.room.member", user_id))
    if ev is None:
        return "leave"
    m = ev.membership
    return m if m is not None else "leave"


def join_rule_of(state: Mapping[StateKey, Event]) -> str:
    """The current ``join_rule``: ``invite`` without an ``m.room.join_rules`` event."""
    ev = state.get(("m.room.join_rules", ""))
    if ev is None:
        return "invite"
    rule = ev.content.get("join_rule")
    return rule if isinstance(rule, str) else ""


def check_member_event(event: Event, state: Mapping[StateKey, Event]) -> None:
    """Apply the ``m.room.member`` rule; return to allow, raise :class:`AuthError` to reject."""
    rv = event.room_version
    target = event.state_key
    membership = event.membership
    if target is None or "membership" not in event.content:
        raise AuthError("member", "no state_key or no membership")
    if rv.restricted_join_rule and AUTHORISING_USER in event.content:
        _check_authorising_server_signed(event)
    if membership == "join":
        _check_join(event, target, state)
    elif membership == "invite":
        _check_invite(event, target, state)
    elif membership == "leave":
        _check_leave(event, target, state)
    elif membership == "ban":
        _check_ban(event, target, state)
    elif membership == "knock" and rv.knock_allowed:
        _check_knock(event, target, state)
    else:
        raise AuthError("member", f"unknown membership {membership!r}")


def _check_authorising_server_signed(event: Event) -> None:
    """Rule 4.2 (v8+): the authorising user's server must have signed the event."""
    user = event.content.get(AUTHORISING_USER)
    if not isinstance(user, str) or not domain_of(user):
        raise AuthError("member/authorising_signature", f"{AUTHORISING_USER} is not a user id")
    signatures = event.pdu.get("signatures")
    if not isinstance(signatures, dict) or not isinstance(signatures.get(domain_of(user)), dict):
        raise AuthError(
            "member/authorising_signature",
            f"event is not signed by {domain_of(user)}, the server of {AUTHORISING_USER}",
        )


def _is_creators_first_join(event: Event, target: str, state: Mapping[StateKey, Event]) -> bool:
    """Join rule 1: the only previous event is the create event and the target is its creator."""
    create = state.get(CREATE_KEY)
    if create is None or event.prev_event_ids != (create.event_id,):
        return False
    if event.room_version.implicit_room_creator:
        return target == create.sender
    return target == create.content.get("creator")


def _check_join(event: Event, target: str, state: Mapping[StateKey, Event]) -> None:
    rv = event.room_version
    if _is_creators_first_join(event, target, state):
        return
    if event.sender != target:
        raise AuthError("member/join", "sender does not match state_key")
    current = membership_of(target, state)
    if current == "ban":
        raise AuthError("member/join", "sender is banned")
    join_rule = join_rule_of(state)
    if join_rule == "invite" or (join_rule == "knock" and rv.knock_allowed):
        if current in ("invite", "join"):
            return
        raise AuthError("member/join", f"join_rule is {join_rule} and sender is not invited")
    if (join_rule == "restricted" and rv.restricted_join_rule) or (
        join_rule == "knock_restricted" and rv.knock_restricted_join_rule
    ):
        if current in ("join", "invite"):
            return
        authoriser = event.content.get(AUTHORISING_USER)
        if not isinstance(authoriser, str):
            raise AuthError("member/join/restricted", f"no {AUTHORISING_USER} in content")
        if membership_of(authoriser, state) != "join":
            raise AuthError("member/join/restricted", f"{authoriser} is not joined to the room")
        if get_user_power_level(authoriser, state) < get_named_power_level("invite", state):
            raise AuthError("member/join/restricted", f"{authoriser} may not invite users")
        return
    if join_rule == "public":
        return
    raise AuthError("member/join", f"join_rule {join_rule!r} does not allow joining")


def _check_invite(event: Event, target: str, state: Mapping[StateKey, Event]) -> None:
    target_membership = membership_of(target, state)
    if "third_party_invite" in event.content:
        check_third_party_invite(event, state, target_membership == "ban")
        return
    if membership_of(event.sender, state) != "join":
        raise AuthError("member/invite", "sender is not joined to the room")
    if target_membership in ("join", "ban"):
        raise AuthError("member/invite", f"target user's membership is {target_membership}")
    if get_user_power_level(event.sender, state) < get_named_power_level("invite", state):
        raise AuthError("member/invite", "sender's power level is below the invite level")


def _check_leave(event: Event, target: str, state: Mapping[StateKey, Event]) -> None:
    sender_membership = membership_of(event.sender, state)
    if event.sender == target:
        allowed = (
            ("invite", "join", "knock") if event.room_version.knock_allowed else ("invite", "join")
        )
        if sender_membership in allowed:
            return
        raise AuthError("member/leave", f"cannot leave with membership {sender_membership}")
    if sender_membership != "join":
        raise AuthError("member/leave", "sender is not joined to the room")
    sender_level = get_user_power_level(event.sender, state)
    if membership_of(target, state) == "ban" and sender_level < get_named_power_level("ban", state):
        raise AuthError("member/leave", "sender's power level is below the ban level (unban)")
    if (
        sender_level >= get_named_power_level("kick", state)
        and get_user_power_level(target, state) < sender_level
    ):
        return
    raise AuthError("member/leave", "sender may not kick the target user")


def _check_ban(event: Event, target: str, state: Mapping[StateKey, Event]) -> None:
    if membership_of(event.sender, state) != "join":
        raise AuthError("member/ban", "sender is not joined to the room")
    sender_level = get_user_power_level(event.sender, state)
    if (
        sender_level >= get_named_power_level("ban", state)
        and get_user_power_level(target, state) < sender_level
    ):
        return
    raise AuthError("member/ban", "sender may not ban the target user")


def _check_knock(event: Event, target: str, state: Mapping[StateKey, Event]) -> None:
    rv = event.room_version
    join_rule = join_rule_of(state)
    if not (
        join_rule == "knock" or (join_rule == "knock_restricted" and rv.knock_restricted_join_rule)
    ):
        raise AuthError("member/knock", f"join_rule {join_rule!r} does not allow knocking")
    if event.sender != target:
        raise AuthError("member/knock", "sender does not match state_key")
    current = membership_of(event.sender, state)
    if current in ("ban", "invite", "join"):
        raise AuthError("member/knock", f"cannot knock with membership {current}")

"""The authorization rules of rooms v1-v12 as one pure function.

Spec: rooms/v1 "Authorisation rules" (fragment v1-auth-rules, v1-v2),
fragments v3-auth-rules (v3-v5) and v8-auth-rules (v8-v9), and the full lists on
rooms/v6, v7, v10, v11 and v12.

Theory of operation: :func:`check_auth_rules` walks the numbered rules in
order, and returns (allow) or raises :class:`AuthError` (reject) at the first
rule that decides. The state it is given (``auth_events``) is whichever set the
caller checks against: the event's auth events, the state before it, or the
current state (server-server-api "Checks performed on receipt of a PDU"); it
must contain the create event under ``("m.room.create", "")`` in every room
version (in v12 the caller adds it although v12 events do not list it).

Rule 2 of v1-v11 (rule 3 of v12), which is about the listed auth events
themselves, is :func:`ranvier.core.auth.auth_types.check_auth_events_shape`;
this function checks only the parts that need no list: a create event is
present and belongs to the event's room (and, v12 rule 2, the room id is the
create event's id with ``!``).

Room version differences are read from the
:class:`~ranvier.core.room_versions.RoomVersion` flags:
``special_case_aliases_auth`` (v1-v5 ``m.room.aliases`` rule),
``event_id_in_event`` (v1-v2 redaction rule; from v3 redactions are checked
when served, see rooms/v3 "Handling redactions" and
:func:`redaction_allowed_at_serve_time`), plus the flags used by the create,
membership and power levels modules.
"""

from __future__ import annotations

from collections.abc import Mapping

from ranvier.core.auth._ids import domain_of
from ranvier.core.auth.create import check_create_event
from ranvier.core.auth.errors import AuthError
from ranvier.core.auth.membership import check_member_event, membership_of
from ranvier.core.auth.power_levels import (
    CREATE_KEY,
    check_power_levels_event,
    get_named_power_level,
    get_required_power_level,
    get_user_power_level,
)
from ranvier.core.events import Event, StateKey


def check_auth_rules(event: Event, auth_events: Mapping[StateKey, Event]) -> None:
    """Authorise ``event`` against the state ``auth_events``.

    Returns if the event is allowed; raises :class:`AuthError` naming the rule
    that rejects it. Pure: no I/O, no mutation of its arguments.
    """
    rv = event.room_version
    if event.type == "m.room.create":
        check_create_event(event)
        return

    create = auth_events.get(CREATE_KEY)
    if create is None:
        raise AuthError("auth_events", "no m.room.create event in the state")
    if rv.room_id_from_create_event:
        if event.room_id != "!" + create.event_id[1:]:
            raise AuthError("room_id", "room_id is not the id of the room's create event")
    elif create.room_id != event.room_id:
        raise AuthError("auth_events", "the create event belongs to another room")

    if create.content.get("m.federate") is False and domain_of(event.sender) != domain_of(
        create.sender
    ):
        raise AuthError("federate", "the room is not federated and the sender is remote")

    if rv.special_case_aliases_auth and event.type == "m.room.aliases":
        if event.state_key is None:
            raise AuthError("aliases", "m.room.aliases has no state_key")
        if event.state_key != domain_of(event.sender):
            raise AuthError("aliases", "state_key does not match the sender's domain")
        return

    if event.type == "m.room.member":
        check_member_event(event, auth_events)
        return

    if membership_of(event.sender, auth_events) != "join":
        raise AuthError("sender_joined", "sender is not joined to the room")

    sender_level = get_user_power_level(event.sender, auth_events)
    if event.type == "m.room.third_party_invite":
        if sender_level >= get_named_power_level("invite", auth_events):
            return
        raise AuthError("third_party_invite", "sender's power level is below the invite level")

    required = get_required_power_level(event.type, event.state_key, auth_events)
    if required > sender_level:
        raise AuthError(
            "required_power_level",
            f"{event.type} needs power level {required}, sender has {sender_level}",
        )

    sk = event.state_key
    if sk is not None and sk.startswith("@") and sk != event.sender:
        raise AuthError("state_key_user", "state_key names a user other than the sender")

    if event.type == "m.room.power_levels":
        check_power_levels_event(event, auth_events)
        return

    if event.type == "m.room.redaction" and rv.event_id_in_event:
        if sender_level >= get_named_power_level("redact", auth_events):
            return
        redacts = event.redacts
        own_domain = domain_of(event.event_id)
        if redacts is not None and own_domain and domain_of(redacts) == own_domain:
            return
        raise AuthError("redaction", "sender may not redact events of another server")


def redaction_allowed_at_serve_time(
    redaction: Event, original: Event, state: Mapping[StateKey, Event]
) -> bool:
    """Whether a server applies ``redaction`` to ``original`` (rooms v3+).

    Spec: rooms/v3 "Handling redactions" (fragment v3-handling-redactions): once
    both events are known and valid, apply it if the redaction's sender has at
    least the *redact level* in ``state``, or if both senders share a server.
    For rooms v1-v2 the auth rules already decided this, so this returns True.
    """
    if redaction.room_version.event_id_in_event:
        return True
    if domain_of(redaction.sender) == domain_of(original.sender):
        return True
    return get_user_power_level(redaction.sender, state) >= get_named_power_level("redact", state)

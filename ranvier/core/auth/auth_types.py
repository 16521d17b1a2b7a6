"""Which state an event's ``auth_events`` may list, and the rule checking that they do.

Spec: server-server-api "Auth events selection" and rule 2 of rooms/v1-v11
(rule 3 of rooms/v12) "Considering the event's auth_events".

Theory of operation: :func:`auth_types_for_event` returns the state keys a
server must fetch to authorise an event (and the only ones it may list): the
create event (except in v12, where the room id implies it), the power levels,
the sender's membership and, for membership events, the target's membership,
the join rules (join/invite/knock), the third-party invite named by the signed
token, and (v8+ restricted joins) the authorising user's membership.
:func:`check_auth_events_shape` checks the listed events themselves (no
duplicates, nothing unselected, create present (v1-v11) and not listed (v12),
all from the same room, none rejected).
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from typing import Any

from ranvier.core.auth.errors import AuthError
from ranvier.core.events import Event, StateKey
from ranvier.core.room_versions import RoomVersion

RULE = "auth_events"


def auth_types_for_event(
    room_version: RoomVersion,
    event_type: str,
    state_key: str | None,
    sender: str,
    content: Mapping[str, Any],
) -> set[StateKey]:
    """The ``(type, state_key)`` pairs the auth events of such an event are chosen from.

    Spec: server-server-api "Auth events selection". Empty for the create event.
    Malformed content (e.g. a non-object ``third_party_invite``) selects nothing
    extra; the auth rules then reject the event.
    """
    if event_type == "m.room.create" and state_key == "":
        return set()
    types: set[StateKey] = {("m.room.power_levels", ""), ("m.room.member", sender)}
    if not room_version.room_id_from_create_event:
        types.add(("m.room.create", ""))
    if event_type != "m.room.member" or state_key is None:
        return types
    types.add(("m.room.member", state_key))
    membership = content.get("membership")
    if membership in ("join", "invite", "knock"):
        types.add(("m.room.join_rules", ""))
    if membership == "invite":
        tpi = content.get("third_party_invite")
        signed = tpi.get("signed") if isinstance(tpi, dict) else None
        token = signed.get("token") if isinstance(signed, dict) else None
        if isinstance(token, str):
            types.add(("m.room.third_party_invite", token))
    if membership == "join" and room_version.restricted_join_rule:
        authoriser = content.get("join_authorised_via_users_server")
        if isinstance(authoriser, str):
            types.add(("m.room.member", authoriser))
    return types


def check_auth_events_shape(
    event: Event, auth_events: Sequence[Event], *, rejected: Container[str] = ()
) -> None:
    """Check ``event``'s auth events themselves; raise :class:`AuthError` on failure.

    ``auth_events`` are the events ``event.auth_event_ids`` name (all of them,
    each once). ``rejected`` holds ids of events the caller has rejected; listing
    one is itself a reason to reject (rule 2.3 / v12 3.3).

    Spec: rooms/v1-v11 rule 2 (2.1 duplicates, 2.2 selection, 2.3 rejected,
    2.4 create present, 2.5 same room); rooms/v12 rule 3 (create must not be
    listed, which 3.2 implies because v12 selection excludes it).
    """
    if event.type == "m.room.create" and event.state_key == "":
        return  # rule 1 allows or rejects the create event before rule 2.
    rv = event.room_version
    listed = event.auth_event_ids
    if len(set(listed)) != len(listed):
        raise AuthError(RULE, "auth_events lists an event twice")
    given = {e.event_id for e in auth_events}
    if given != set(listed) or len(auth_events) != len(listed):
        missing = sorted(set(listed) - given)
        extra = sorted(given - set(listed))
        raise AuthError(RULE, f"auth events given do not match auth_events ({missing=}, {extra=})")
    allowed = auth_types_for_event(rv, event.type, event.state_key, event.sender, event.content)
    seen: set[StateKey] = set()
    for ae in auth_events:
        if ae.state_key is None:
            raise AuthError(RULE, f"auth event {ae.event_id} is not a state event")
        key = ae.state_tuple
        if key in seen:
            raise AuthError(RULE, f"duplicate auth events for {key}")
        seen.add(key)
        if key not in allowed:
            raise AuthError(RULE, f"auth event {ae.event_id} for {key} is not selected")
        if ae.event_id in rejected:
            raise AuthError(RULE, f"auth event {ae.event_id} was rejected")
        if ae.room_id != event.room_id:
            raise AuthError(RULE, f"auth event {ae.event_id} belongs to room {ae.room_id}")
    if not rv.room_id_from_create_event and ("m.room.create", "") not in seen:
        raise AuthError(RULE, "no m.room.create event among the auth events")

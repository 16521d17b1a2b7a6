"""Power levels: reading them from room state, and the auth rule for changing them.

Theory of operation. Every question "may this user do X" reduces to comparing
two numbers read from ``m.room.power_levels`` (or its defaults when the room has
no such event yet):

* the *user's level* (:func:`get_user_power_level`): ``users[user_id]``, else
  ``users_default``, else 0. Without a power levels event the room creators
  have 100 (rooms v1-v11). In rooms v12 the creators (:func:`get_creators`) have
  infinite power, with or without a power levels event, so the function returns
  ``float("inf")`` for them;
* a *required level* (:func:`get_required_power_level` for sending an event
  type, :func:`get_named_power_level` for ``invite``/``kick``/``ban``/``redact``).
  Defaults are in :data:`NAMED_LEVEL_DEFAULTS` (server-server-api, "Definitions";
  client-server-api ``m.room.power_levels``).

Values are parsed according to the room version of the power levels event
(:func:`parse_power_level`): v10+ accept only JSON integers; v1-v9 also accept
integer strings (rooms/v1 "m.room.power_levels events accept values as
strings"); v1-v5 also accept finite floats, truncated (rooms/v1 "... accept
values as floats"). A value in the room state that does not parse is treated as
absent (its default applies): the spec leaves that case undefined for v1-v9 and
the v10+ rules make it impossible. A *new* power levels event carrying an
unparseable value that the rules must compare is rejected, and so is one whose
``events`` (or, v6+, ``notifications``) is not an object: the spec states both
only from v10, but no earlier rule can be evaluated on such content.

:func:`check_power_levels_event` is rule 9 of rooms v3-v11 (10 in v1-v2 and v12).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ranvier.core.auth._ids import is_valid_user_id
from ranvier.core.auth.errors import AuthError
from ranvier.core.events import Event, StateKey
from ranvier.core.room_versions import RoomVersion

CREATE_KEY: StateKey = ("m.room.create", "")
POWER_LEVELS_KEY: StateKey = ("m.room.power_levels", "")

NAMED_LEVEL_DEFAULTS: Mapping[str, int] = {
    "invite": 0,
    "kick": 50,
    "ban": 50,
    "redact": 50,
    "users_default": 0,
    "events_default": 0,
    "state_default": 50,
}
"""Defaults of the top-level integer keys of ``m.room.power_levels`` content,
used both with and without a power levels event (server-server-api
"Definitions"; client-server-api ``m.room.power_levels``)."""

CREATOR_WITHOUT_POWER_LEVELS = 100
"""Rooms v1-v11: the creator's level while the room has no power levels event."""

_LEVEL_KEYS = (
    "users_default",
    "events_default",
    "state_default",
    "ban",
    "redact",
    "kick",
    "invite",
)
_INT_STRING = re.compile(r"\s*[+-]?[0-9]+\s*", re.ASCII)


def parse_power_level(value: Any, room_version: RoomVersion) -> int | None:
    """Return ``value`` as a power level integer, or None if it is not one.

    Spec: rooms/v10 "Values in m.room.power_levels events must be integers";
    rooms/v1 "m.room.power_levels events accept values as strings" (v1-v9) and
    "... accept values as floats" (v1-v5: truncate; reject NaN and infinities).
    JSON booleans are never power levels.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if room_version.enforce_int_power_levels:
        return None
    if isinstance(value, str):
        if _INT_STRING.fullmatch(value) is None:
            return None
        return int(value.strip())
    if isinstance(value, float) and not room_version.strict_canonical_json:
        if not math.isfinite(value):
            return None
        return int(value)
    return None


def get_creators(create_event: Event) -> frozenset[str]:
    """The room creators named by ``create_event``.

    Rooms v12 (rooms/v12 "Authorisation rules", note on room creators): the
    ``sender`` plus every string in ``content.additional_creators``. Room v11:
    the ``sender`` (``creator`` was removed). Rooms v1-v10: ``content.creator``,
    falling back to the ``sender`` if it is missing.
    """
    rv = create_event.room_version
    content = create_event.content
    if rv.privileged_creators:
        extra = content.get("additional_creators")
        others = [u for u in extra if isinstance(u, str)] if isinstance(extra, list) else []
        return frozenset([create_event.sender, *others])
    if rv.implicit_room_creator:
        return frozenset([create_event.sender])
    creator = content.get("creator")
    return frozenset([creator if isinstance(creator, str) else create_event.sender])


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _level(content: Mapping[str, Any], key: str, rv: RoomVersion) -> int:
    parsed = parse_power_level(content.get(key), rv)
    return NAMED_LEVEL_DEFAULTS[key] if parsed is None else parsed


def get_user_power_level(user_id: str, state: Mapping[StateKey, Event]) -> int | float:
    """The power level of ``user_id`` in ``state`` (auth events or room state).

    ``float("inf")`` for the creators of a v12 room. ``state`` should hold the
    create event; without it nobody counts as a creator.
    """
    create = state.get(CREATE_KEY)
    privileged = create is not None and create.room_version.privileged_creators
    if privileged and create is not None and user_id in get_creators(create):
        return math.inf
    pl = state.get(POWER_LEVELS_KEY)
    if pl is None:
        if create is not None and user_id in get_creators(create):
            return CREATOR_WITHOUT_POWER_LEVELS
        return 0
    rv = pl.room_version
    users = _mapping(pl.content.get("users"))
    if user_id in users:
        parsed = parse_power_level(users[user_id], rv)
        if parsed is not None:
            return parsed
    return _level(pl.content, "users_default", rv)


def get_named_power_level(name: str, state: Mapping[StateKey, Event]) -> int:
    """The *invite*, *kick*, *ban* or *redact* level (or another top-level key of
    :data:`NAMED_LEVEL_DEFAULTS`) in force in ``state``.
    """
    pl = state.get(POWER_LEVELS_KEY)
    if pl is None:
        return NAMED_LEVEL_DEFAULTS[name]
    return _level(pl.content, name, pl.room_version)


def get_required_power_level(
    event_type: str, state_key: str | None, state: Mapping[StateKey, Event]
) -> int:
    """The *required power level* to send an event of ``event_type``.

    Spec: server-server-api "Definitions": ``events[event_type]``, else
    ``state_default`` (50) for state events or ``events_default`` (0) otherwise.
    """
    pl = state.get(POWER_LEVELS_KEY)
    content: Mapping[str, Any] = pl.content if pl is not None else {}
    if pl is not None:
        events = _mapping(content.get("events"))
        if event_type in events:
            parsed = parse_power_level(events[event_type], pl.room_version)
            if parsed is not None:
                return parsed
    key = "state_default" if state_key is not None else "events_default"
    if pl is None:
        return NAMED_LEVEL_DEFAULTS[key]
    return _level(content, key, pl.room_version)


def _validate_new_content(event: Event, state: Mapping[StateKey, Event]) -> None:
    """Rules 9.1-9.3 (v10-v11 numbering; 10.1-10.4 in v12, 9.1/10.1 before v10)."""
    rv = event.room_version
    content = event.content
    if rv.enforce_int_power_levels:
        for key in _LEVEL_KEYS:
            if key in content and parse_power_level(content[key], rv) is None:
                raise AuthError("power_levels/integers", f"{key} is not an integer")
    checked_maps = (
        ("events", "notifications") if rv.limit_notifications_power_levels else ("events",)
    )
    for key in checked_maps:
        if key not in content:
            continue
        value = content[key]
        if not isinstance(value, dict):
            raise AuthError("power_levels/integers", f"{key} is not an object")
        if rv.enforce_int_power_levels:
            for name, level in value.items():
                if parse_power_level(level, rv) is None:
                    raise AuthError("power_levels/integers", f"{key}[{name!r}] is not an integer")
    users = content.get("users", {})
    if not isinstance(users, dict):
        raise AuthError("power_levels/users", "users is not an object")
    for user_id, level in users.items():
        if not is_valid_user_id(user_id):
            raise AuthError("power_levels/users", f"users key {user_id!r} is not a user id")
        if parse_power_level(level, rv) is None:
            raise AuthError("power_levels/users", f"users[{user_id!r}] is not an integer")
    if rv.privileged_creators:
        create = state.get(CREATE_KEY)
        if create is None:
            raise AuthError("power_levels/creators", "no create event to find the creators")
        named = get_creators(create).intersection(users)
        if named:
            raise AuthError(
                "power_levels/creators", f"room creators may not appear in users: {sorted(named)}"
            )


def _parsed_entries(value: Any, rv: RoomVersion, *, strict: bool, what: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, raw in _mapping(value).items():
        parsed = parse_power_level(raw, rv)
        if parsed is None:
            if strict:
                raise AuthError("power_levels/integers", f"{what}[{key!r}] is not an integer")
            continue
        out[key] = parsed
    return out


def check_power_levels_event(event: Event, state: Mapping[StateKey, Event]) -> None:
    """Apply the ``m.room.power_levels`` rule to ``event`` against ``state``.

    Spec: rooms/v1 rule 10, rooms/v3-v11 rule 9 (v6 adds ``notifications``,
    v10 adds the integer checks), rooms/v12 rule 10 (creators may not be listed
    in ``users``). Raises :class:`AuthError` naming the failed sub-rule.
    """
    _validate_new_content(event, state)
    previous = state.get(POWER_LEVELS_KEY)
    if previous is None:
        return  # "If there is no previous m.room.power_levels event in the room, allow."
    rv = event.room_version
    old_rv = previous.room_version
    sender_level = get_user_power_level(event.sender, state)
    new, old = event.content, previous.content

    # Top-level levels: any alteration needs both values <= the sender's level.
    new_top = {k: new[k] for k in _LEVEL_KEYS if k in new}
    old_top = {k: old[k] for k in _LEVEL_KEYS if k in old}
    _check_changes(
        _parsed_entries(old_top, old_rv, strict=False, what="content"),
        _parsed_entries(new_top, rv, strict=True, what="content"),
        sender_level,
        "power_levels/levels",
        "",
    )
    maps = ["events"]
    if rv.limit_notifications_power_levels:
        maps.append("notifications")
    for name in maps:
        _check_changes(
            _parsed_entries(old.get(name), old_rv, strict=False, what=name),
            _parsed_entries(new.get(name), rv, strict=True, what=name),
            sender_level,
            f"power_levels/{name}",
            name,
        )

    old_users = _parsed_entries(old.get("users"), old_rv, strict=False, what="users")
    new_users = _parsed_entries(new.get("users"), rv, strict=True, what="users")
    for user_id in old_users.keys() | new_users.keys():
        before, after = old_users.get(user_id), new_users.get(user_id)
        if before == after:
            continue
        if before is not None and user_id != event.sender and before >= sender_level:
            raise AuthError(
                "power_levels/users",
                f"cannot change {user_id}'s level {before}: not below the sender's {sender_level}",
            )
        if after is not None and after > sender_level:
            raise AuthError(
                "power_levels/users",
                f"cannot set {user_id}'s level to {after}: above the sender's {sender_level}",
            )


def _check_changes(
    old: Mapping[str, int],
    new: Mapping[str, int],
    sender_level: int | float,
    rule: str,
    where: str,
) -> None:
    """Each added, changed or removed entry: neither the current nor the new
    value may exceed the sender's level."""
    for key in old.keys() | new.keys():
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        label = f"{where}[{key!r}]" if where else key
        if before is not None and before > sender_level:
            raise AuthError(rule, f"cannot change {label} from {before}: above the sender's level")
        if after is not None and after > sender_level:
            raise AuthError(rule, f"cannot set {label} to {after}: above the sender's level")

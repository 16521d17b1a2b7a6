"""The initial events of a new room, as a pure function of the ``/createRoom`` request.

Spec: client-server-api "POST /createRoom" (data/api/client-server/create_room.yaml):
the events are, in this order, (1) ``m.room.create``, (2) the creator's join, (3) the
default ``m.room.power_levels`` with ``power_level_content_override`` applied on top,
(4) ``m.room.canonical_alias`` when ``room_alias_name`` is given, (5) the preset's
``join_rules``/``history_visibility``/``guest_access`` (unless ``initial_state`` sets
the same key, which takes precedence), (6) ``initial_state`` in order (except name and
topic when ``name``/``topic`` are given, which override them), (7) ``m.room.name`` and
``m.room.topic``, (8) invites.

Power levels: in rooms v1-v11 the creator gets 100 in ``users``; from v12 the creator
(and ``additional_creators``) have infinite power and are not listed, and
``m.room.tombstone`` needs 150, above ``state_default`` (rooms/v12, MSC4289). For
``trusted_private_chat`` invitees get the creator's power: 100 in ``users`` before v12,
``additional_creators`` in the create event from v12. Private presets let members
invite (``invite: 0``), a common server default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ranvier.core.room_versions import RoomVersion
from ranvier.http.types import MatrixError

PRESETS: dict[str, dict[str, str]] = {
    "private_chat": {"join_rule": "invite", "history": "shared", "guest": "can_join"},
    "trusted_private_chat": {"join_rule": "invite", "history": "shared", "guest": "can_join"},
    "public_chat": {"join_rule": "public", "history": "shared", "guest": "forbidden"},
}


@dataclass(frozen=True, slots=True)
class StateSpec:
    """One state event to send: type, state key and content."""

    event_type: str
    state_key: str
    content: dict[str, Any]


def pick_preset(preset: str | None, visibility: str) -> str:
    """The preset named, or the one implied by ``visibility`` (``public`` -> ``public_chat``)."""
    if preset is None:
        return "public_chat" if visibility == "public" else "private_chat"
    if preset not in PRESETS:
        raise MatrixError(400, "M_INVALID_PARAM", f"Unknown preset {preset!r}")
    return preset


def create_content(
    rv: RoomVersion,
    creator: str,
    creation_content: Mapping[str, Any],
    preset: str,
    invite: Sequence[str],
) -> dict[str, Any]:
    """The ``m.room.create`` content: ``creation_content`` plus the keys the server sets."""
    content = dict(creation_content)
    content["room_version"] = rv.identifier
    if rv.implicit_room_creator:
        content.pop("creator", None)
    else:
        content["creator"] = creator
    if rv.privileged_creators and preset == "trusted_private_chat":
        extra = content.get("additional_creators")
        merged = list(extra) if isinstance(extra, list) else []
        for user_id in invite:
            if user_id not in merged and user_id != creator:
                merged.append(user_id)
        if merged:
            content["additional_creators"] = merged
    return content


def default_power_levels(
    rv: RoomVersion, creator: str, preset: str, invite: Sequence[str]
) -> dict[str, Any]:
    """The default ``m.room.power_levels`` content before the override."""
    users: dict[str, int] = {}
    if not rv.privileged_creators:
        users[creator] = 100
        if preset == "trusted_private_chat":
            for user_id in invite:
                users[user_id] = 100
    return {
        "users": users,
        "users_default": 0,
        "events": {
            "m.room.name": 50,
            "m.room.power_levels": 100,
            "m.room.history_visibility": 100,
            "m.room.canonical_alias": 50,
            "m.room.avatar": 50,
            "m.room.tombstone": 150 if rv.privileged_creators else 100,
            "m.room.server_acl": 100,
            "m.room.encryption": 100,
        },
        "events_default": 0,
        "state_default": 50,
        "ban": 50,
        "kick": 50,
        "redact": 50,
        "invite": 0 if preset != "public_chat" else 50,
        "notifications": {"room": 50},
    }


def parse_initial_state(raw: Any) -> list[StateSpec]:
    """Validate ``initial_state`` (400 ``M_BAD_JSON`` / ``M_INVALID_ROOM_STATE``)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise MatrixError(400, "M_BAD_JSON", "initial_state must be a list")
    out: list[StateSpec] = []
    for item in raw:
        if not isinstance(item, dict):
            raise MatrixError(400, "M_BAD_JSON", "initial_state entries must be objects")
        event_type = item.get("type")
        state_key = item.get("state_key", "")
        content = item.get("content")
        if not isinstance(event_type, str) or not isinstance(state_key, str):
            raise MatrixError(400, "M_BAD_JSON", "initial_state entries need a string type")
        if not isinstance(content, dict):
            raise MatrixError(400, "M_BAD_JSON", "initial_state entries need a content object")
        if event_type in ("m.room.create", "m.room.member"):
            raise MatrixError(
                400, "M_INVALID_ROOM_STATE", f"{event_type} cannot be set in initial_state"
            )
        out.append(StateSpec(event_type, state_key, content))
    return out


def initial_state_events(
    rv: RoomVersion,
    creator: str,
    *,
    preset: str,
    invite: Sequence[str],
    initial_state: Sequence[StateSpec],
    power_level_content_override: Mapping[str, Any] | None,
    canonical_alias: str | None,
    name: str | None,
    topic: str | None,
) -> list[StateSpec]:
    """Steps 3 to 7 of the module docstring (the events between the join and invites)."""
    power = default_power_levels(rv, creator, preset, invite)
    if power_level_content_override:
        power.update(power_level_content_override)
    events = [StateSpec("m.room.power_levels", "", power)]
    if canonical_alias is not None:
        events.append(StateSpec("m.room.canonical_alias", "", {"alias": canonical_alias}))
    given = {(s.event_type, s.state_key) for s in initial_state}
    p = PRESETS[preset]
    for spec in (
        StateSpec("m.room.join_rules", "", {"join_rule": p["join_rule"]}),
        StateSpec("m.room.history_visibility", "", {"history_visibility": p["history"]}),
        StateSpec("m.room.guest_access", "", {"guest_access": p["guest"]}),
    ):
        if (spec.event_type, spec.state_key) not in given:
            events.append(spec)
    for spec in initial_state:
        if name is not None and (spec.event_type, spec.state_key) == ("m.room.name", ""):
            continue
        if topic is not None and (spec.event_type, spec.state_key) == ("m.room.topic", ""):
            continue
        events.append(spec)
    if name is not None:
        events.append(StateSpec("m.room.name", "", {"name": name}))
    if topic is not None:
        events.append(
            StateSpec(
                "m.room.topic",
                "",
                {
                    "topic": topic,
                    "m.topic": {"m.text": [{"body": topic, "mimetype": "text/plain"}]},
                },
            )
        )
    return events

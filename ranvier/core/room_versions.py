"""Room versions 1-12 as data.

Theory of operation: every behaviour that differs between room versions is a
field of the frozen :class:`RoomVersion` record. Version 1 is spelled out in
full; each later version is ``dataclasses.replace`` of the one before, changing
only what that version's page of the spec ("Room Versions", ``/rooms/vN``)
changes. Code elsewhere asks the record (``rv.knock_allowed``), never compares
version strings.

Unknown versions are an explicit error: :func:`get_room_version` raises
:class:`UnknownRoomVersion`, which the API layer maps to
``M_UNSUPPORTED_ROOM_VERSION``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum


class EventFormat(Enum):
    """How events are shaped and identified (spec: "Event format" per room version)."""

    V1 = 1
    """Rooms v1-v2: ``event_id`` is a field of the event (``$local:domain``);
    ``prev_events``/``auth_events`` are lists of ``[event_id, {hashes}]`` pairs."""
    V2 = 2
    """Room v3: event id is ``$`` + standard unpadded base64 of the reference hash;
    ``prev_events``/``auth_events`` are lists of event ids."""
    V3 = 3
    """Rooms v4+: as V2 but the event id uses URL-safe unpadded base64."""


class StateResVersion(Enum):
    """Which state resolution algorithm the room uses."""

    V1 = 1
    """Room v1: the original algorithm (spec rooms/v1 "State resolution")."""
    V2 = 2
    """Rooms v2-v11: spec rooms/v2 "State resolution"."""
    V2_1 = 3
    """Room v12 (MSC4297): v2 starting from an empty map and including the
    conflicted state subgraph."""


class RedactionAlgorithm(Enum):
    """Which keys survive redaction (spec: "Redactions" per room version)."""

    V1 = 1
    """Rooms v1-v5: the original list, including ``m.room.aliases`` ``aliases``."""
    V6 = 6
    """Rooms v6-v7: ``m.room.aliases`` loses its special case (MSC2432)."""
    V8 = 8
    """Room v8: ``m.room.join_rules`` keeps ``allow`` (restricted rooms)."""
    V9 = 9
    """Room v9-v10: ``m.room.member`` also keeps ``join_authorised_via_users_server``."""
    V11 = 11
    """Room v11-v12: MSC2176/MSC3821/MSC3989 changes (``origin``, ``membership``,
    ``prev_state`` no longer kept at top level; create keeps all content;
    redaction keeps ``redacts``; power levels keep ``invite``; member keeps
    ``third_party_invite.signed``)."""


@dataclass(frozen=True, slots=True)
class RoomVersion:
    """The rule flags of one room version.

    Every field is cited to the room version page where it first changed.
    """

    identifier: str
    """The version string, e.g. ``"10"``."""
    stable: bool
    """Whether the spec lists it as stable."""
    event_format: EventFormat
    state_res: StateResVersion
    redaction: RedactionAlgorithm
    enforce_key_validity: bool
    """v5: signing keys must be valid at ``origin_server_ts`` (spec rooms/v5)."""
    special_case_aliases_auth: bool
    """v1-v5: ``m.room.aliases`` has its own auth rule (rule 4 in rooms/v1); removed in v6."""
    strict_canonical_json: bool
    """v6: integers outside [-(2**53)+1, 2**53-1] and floats are rejected."""
    limit_notifications_power_levels: bool
    """v6: changes to ``notifications`` in power levels are checked like other keys."""
    knock_allowed: bool
    """v7: the ``knock`` membership and join rule exist."""
    restricted_join_rule: bool
    """v8: the ``restricted`` join rule and ``join_authorised_via_users_server``."""
    restricted_join_rule_fix: bool
    """v9: redaction keeps ``join_authorised_via_users_server`` (see RedactionAlgorithm.V9)."""
    knock_restricted_join_rule: bool
    """v10: the ``knock_restricted`` join rule."""
    enforce_int_power_levels: bool
    """v10: power level values must be integers, not strings."""
    implicit_room_creator: bool
    """v11: the create event has no ``creator``; the creator is its ``sender`` (MSC2175)."""
    updated_redaction_rules: bool
    """v11: ``redacts`` lives in ``content`` of ``m.room.redaction`` (MSC2174)."""
    room_id_from_create_event: bool
    """v12: the room id is ``!`` + URL-safe base64 of the create event's reference
    hash; the create event carries no ``room_id`` and is not listed in
    ``auth_events`` (MSC4291)."""
    privileged_creators: bool
    """v12: the create sender and ``additional_creators`` have infinite power and
    may not appear in ``m.room.power_levels`` ``users`` (MSC4289)."""

    @property
    def event_id_in_event(self) -> bool:
        """Rooms v1-v2 carry their id in the ``event_id`` field."""
        return self.event_format is EventFormat.V1

    @property
    def msc3083_join_rules(self) -> bool:
        """Alias of :attr:`restricted_join_rule` (readability at call sites)."""
        return self.restricted_join_rule


class UnknownRoomVersion(ValueError):
    """Raised for a room version string this server does not implement."""

    def __init__(self, identifier: str) -> None:
        super().__init__(f"unknown room version {identifier!r}")
        self.identifier = identifier


V1 = RoomVersion(
    identifier="1",
    stable=True,
    event_format=EventFormat.V1,
    state_res=StateResVersion.V1,
    redaction=RedactionAlgorithm.V1,
    enforce_key_validity=False,
    special_case_aliases_auth=True,
    strict_canonical_json=False,
    limit_notifications_power_levels=False,
    knock_allowed=False,
    restricted_join_rule=False,
    restricted_join_rule_fix=False,
    knock_restricted_join_rule=False,
    enforce_int_power_levels=False,
    implicit_room_creator=False,
    updated_redaction_rules=False,
    room_id_from_create_event=False,
    privileged_creators=False,
)
V2 = dataclasses.replace(V1, identifier="2", state_res=StateResVersion.V2)
V3 = dataclasses.replace(V2, identifier="3", event_format=EventFormat.V2)
V4 = dataclasses.replace(V3, identifier="4", event_format=EventFormat.V3)
V5 = dataclasses.replace(V4, identifier="5", enforce_key_validity=True)
V6 = dataclasses.replace(
    V5,
    identifier="6",
    redaction=RedactionAlgorithm.V6,
    special_case_aliases_auth=False,
    strict_canonical_json=True,
    limit_notifications_power_levels=True,
)
V7 = dataclasses.replace(V6, identifier="7", knock_allowed=True)
V8 = dataclasses.replace(
    V7, identifier="8", redaction=RedactionAlgorithm.V8, restricted_join_rule=True
)
V9 = dataclasses.replace(
    V8, identifier="9", redaction=RedactionAlgorithm.V9, restricted_join_rule_fix=True
)
V10 = dataclasses.replace(
    V9, identifier="10", knock_restricted_join_rule=True, enforce_int_power_levels=True
)
V11 = dataclasses.replace(
    V10,
    identifier="11",
    redaction=RedactionAlgorithm.V11,
    implicit_room_creator=True,
    updated_redaction_rules=True,
)
V12 = dataclasses.replace(
    V11,
    identifier="12",
    state_res=StateResVersion.V2_1,
    room_id_from_create_event=True,
    privileged_creators=True,
)

KNOWN_ROOM_VERSIONS: dict[str, RoomVersion] = {
    rv.identifier: rv for rv in (V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12)
}
"""Every room version ranvier implements, by identifier."""

DEFAULT_ROOM_VERSION = V12
"""The spec recommends new rooms default to version 12 (client-server-api, "Room versions")."""


def get_room_version(identifier: str) -> RoomVersion:
    """Return the record for ``identifier`` or raise :class:`UnknownRoomVersion`."""
    try:
        return KNOWN_ROOM_VERSIONS[identifier]
    except (KeyError, TypeError):
        raise UnknownRoomVersion(str(identifier)) from None

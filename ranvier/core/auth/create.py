"""The ``m.room.create`` authorization rule (rule 1 of every room version).

Spec: rooms/v1 rule 1 (v1-v10: ``room_id`` domain equals the ``sender``
domain; ``content.creator`` required), rooms/v11 rule 1 (``creator`` no longer
required), rooms/v12 rule 1 (no ``room_id`` at all: the room id is derived from
the event id; ``additional_creators`` must be valid user ids).
"""

from __future__ import annotations

from ranvier.core.auth._ids import domain_of, is_valid_user_id
from ranvier.core.auth.errors import AuthError
from ranvier.core.events import Event
from ranvier.core.room_versions import KNOWN_ROOM_VERSIONS


def check_create_event(event: Event) -> None:
    """Apply rule 1 to a create event; return to allow, raise :class:`AuthError` to reject."""
    rv = event.room_version
    if event.prev_event_ids:
        raise AuthError("create", "create event has prev_events")
    if rv.room_id_from_create_event:
        if "room_id" in event.pdu:
            raise AuthError("create", "create event has a room_id")
    elif domain_of(event.room_id) != domain_of(event.sender):
        raise AuthError("create", "room_id domain does not match the sender's domain")
    content = event.content
    if "room_version" in content:
        version = content["room_version"]
        if not isinstance(version, str) or version not in KNOWN_ROOM_VERSIONS:
            raise AuthError("create", f"unrecognised room_version {version!r}")
    if not rv.implicit_room_creator and "creator" not in content:
        raise AuthError("create", "content has no creator")
    if rv.privileged_creators and "additional_creators" in content:
        extra = content["additional_creators"]
        if not isinstance(extra, list) or not all(is_valid_user_id(u) for u in extra):
            raise AuthError("create", "additional_creators is not an array of user ids")

"""The room state sent with invites and knocks (``invite_room_state``,
``knock_room_state``): building it, and checking what other servers send.

Spec: server-server-api "Inviting to a room" (invites-v2.yaml), "Knocking upon a room"
(knocks.yaml), both changed in v1.16: the state MUST contain the room's
``m.room.create`` event and every entry MUST be a PDU formatted for the room version;
client-server-api "Stripped state" (what clients are shown).

Theory of operation
-------------------
Out, :func:`room_state_pdus` picks the events clients are shown for an invite or knock
(:data:`ranvier.sync.invites.STRIPPED_STATE_TYPES`, plus the inviter's or knocker's
membership) from a state snapshot, as full PDUs without ``unsigned``.

In, :func:`check_room_state` validates the list against the room: each entry must be a
well-formed PDU of the room version, correctly signed, of this room. The spec says
servers SHOULD reject a bad list in room version 12 (and other room versions whose room
id comes from the create event) and MAY in older ones, where servers predating v1.16
still send plain stripped events: so in those rooms bad or plain entries are kept as
stripped events when they have the four stripped fields, and dropped otherwise, and the
create event is not required. A well-formed, signed create event naming another room
version than the invite's or knock's is refused in every room version
(:class:`CreateVersionMismatch`: the answer contradicts itself). The result is the
stripped form clients see.
"""

from __future__ import annotations

from typing import Any

from ranvier.core.events import Event, JsonDict
from ranvier.core.format import EventFormatError, check_pdu_format
from ranvier.core.room_versions import RoomVersion
from ranvier.core.signing import SignatureError
from ranvier.rooms.remote import SignatureCheck, strip_unsigned
from ranvier.rooms.state_store import Snapshot
from ranvier.rooms.storage import RoomStorage
from ranvier.sync.invites import STRIPPED_STATE_TYPES, stripped


class BadRoomState(ValueError):
    """The invite or knock room state is unacceptable (400 ``M_INVALID_PARAM``)."""


class CreateVersionMismatch(BadRoomState):
    """The room state's create event names another room version than the one the
    invite or knock is for (``room_version``: the one it names, when a string)."""

    def __init__(self, room_version: str | None) -> None:
        super().__init__(f"the create event is for room version {room_version!r}")
        self.room_version = room_version


async def room_state_pdus(
    storage: RoomStorage, snapshot: Snapshot, member: str | None = None
) -> list[JsonDict]:
    """The PDUs of the stripped-state types in ``snapshot``, and ``member``'s membership
    event when given."""
    keys = [(t, "") for t in STRIPPED_STATE_TYPES]
    if member is not None:
        keys.append(("m.room.member", member))
    state = await storage.state_events(snapshot, keys)
    return [strip_unsigned(state[k].pdu) for k in keys if k in state]


def _plain_stripped(item: dict[str, Any]) -> JsonDict | None:
    """An entry in the pre-v1.16 stripped form, or None."""
    if (
        isinstance(item.get("type"), str)
        and isinstance(item.get("state_key"), str)
        and isinstance(item.get("sender"), str)
        and isinstance(item.get("content"), dict)
    ):
        return {k: item[k] for k in ("content", "sender", "state_key", "type")}
    return None


async def check_room_state(
    items: Any, rv: RoomVersion, room_id: str, verify: SignatureCheck
) -> list[JsonDict]:
    """Validate ``invite_room_state``/``knock_room_state`` (module docstring); return
    the stripped events. Raises :class:`BadRoomState`."""
    strict = rv.room_id_from_create_event
    if items is None:
        items = []
    if not isinstance(items, list):
        raise BadRoomState("room state must be a list")
    out: list[JsonDict] = []
    has_create = False
    for item in items:
        if not isinstance(item, dict):
            if strict:
                raise BadRoomState("room state entries must be objects")
            continue
        try:
            check_pdu_format(item, rv)
            pdu = strip_unsigned(item)
            event = Event(pdu, rv)
            if event.state_key is None:
                raise EventFormatError("not a state event")
            if event.room_id != room_id:
                raise EventFormatError("event of another room")
            await verify(pdu, rv)
        except (EventFormatError, SignatureError, KeyError, TypeError, ValueError) as exc:
            if strict:
                raise BadRoomState(f"bad room state entry: {exc}") from None
            plain = _plain_stripped(item)
            if plain is not None:
                out.append(plain)
                has_create = has_create or plain["type"] == "m.room.create"
            continue
        if event.type == "m.room.create" and event.state_key == "":
            created_as = event.content.get("room_version", "1")
            if created_as != rv.identifier:
                raise CreateVersionMismatch(created_as if isinstance(created_as, str) else None)
            has_create = True
        out.append(stripped(event))
    if strict and not has_create:
        raise BadRoomState("room state lacks the m.room.create event")
    return out

"""The in-memory form of a room event (PDU).

Theory of operation: a PDU arrives or is built as a JSON object. :class:`Event`
wraps that object once, reads the fields auth rules and state resolution touch
into slots (so hot loops do attribute reads, not dict lookups), and normalises
the two historic shapes of ``prev_events``/``auth_events`` (room v1-v2 pairs,
v3+ plain ids) into tuples of ids. ``pdu`` is the original JSON object and is
never mutated after construction; treat the whole object as immutable.

The event id of v3+ rooms is a hash of the redacted event, so building an
:class:`Event` from a v3+ PDU computes it (see :mod:`ranvier.core.hashes`).

Spec: server-server-api "PDUs"; rooms/v1 and rooms/v3 "Event format".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ranvier.core.room_versions import RoomVersion

JsonDict = dict[str, Any]
"""A decoded JSON object."""

StateKey = tuple[str, str]
"""``(event type, state key)``: the key of a room's state map."""


class Event:
    """A PDU with its hot fields unpacked. Immutable by convention."""

    __slots__ = (
        "auth_event_ids",
        "content",
        "depth",
        "event_id",
        "origin_server_ts",
        "pdu",
        "prev_event_ids",
        "redacts",
        "room_id",
        "room_version",
        "sender",
        "state_key",
        "type",
    )

    event_id: str
    room_version: RoomVersion
    pdu: JsonDict
    type: str
    state_key: str | None
    sender: str
    room_id: str
    content: JsonDict
    depth: int
    origin_server_ts: int
    prev_event_ids: tuple[str, ...]
    auth_event_ids: tuple[str, ...]
    redacts: str | None

    def __init__(self, pdu: JsonDict, room_version: RoomVersion, event_id: str | None = None):
        """Wrap ``pdu``. ``event_id`` may be passed when already known (it is
        otherwise read from the PDU in v1-v2 rooms or computed in v3+ rooms).

        Raises ``KeyError``/``TypeError``/``ValueError`` on a malformed PDU; callers
        that accept untrusted input run :func:`ranvier.core.format.check_pdu_format`
        first.
        """
        self.pdu = pdu
        self.room_version = room_version
        if event_id is None:
            if room_version.event_id_in_event:
                event_id = pdu["event_id"]
            else:
                from ranvier.core.hashes import compute_event_id

                event_id = compute_event_id(pdu, room_version)
        self.event_id = event_id
        self.type = pdu["type"]
        sk = pdu.get("state_key")
        self.state_key = sk if isinstance(sk, str) else None
        self.sender = pdu["sender"]
        self.content = pdu.get("content") or {}
        self.depth = int(pdu.get("depth", 0))
        self.origin_server_ts = int(pdu.get("origin_server_ts", 0))
        self.prev_event_ids = _ids(pdu.get("prev_events", ()))
        self.auth_event_ids = _ids(pdu.get("auth_events", ()))
        if room_version.room_id_from_create_event and self.type == "m.room.create" and sk == "":
            # v12: the create event has no room_id; the room id derives from its id.
            self.room_id = "!" + event_id[1:]
        else:
            self.room_id = pdu["room_id"]
        redacts: Any
        if room_version.updated_redaction_rules:
            redacts = self.content.get("redacts", pdu.get("redacts"))
        else:
            redacts = pdu.get("redacts")
        self.redacts = redacts if isinstance(redacts, str) else None

    @property
    def is_state(self) -> bool:
        """True for state events (those with a ``state_key``)."""
        return self.state_key is not None

    @property
    def state_tuple(self) -> StateKey:
        """``(type, state_key)``; only meaningful for state events."""
        assert self.state_key is not None
        return (self.type, self.state_key)

    @property
    def membership(self) -> str | None:
        """``content.membership`` of an ``m.room.member`` event, else None."""
        m = self.content.get("membership")
        return m if isinstance(m, str) else None

    @property
    def unsigned(self) -> Mapping[str, Any]:
        """The ``unsigned`` section (not covered by hashes or signatures)."""
        u = self.pdu.get("unsigned")
        return u if isinstance(u, dict) else {}

    def __repr__(self) -> str:
        return f"<Event {self.event_id} {self.type} {self.state_key!r} by {self.sender}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and other.event_id == self.event_id

    def __hash__(self) -> int:
        return hash(self.event_id)


def _ids(refs: Any) -> tuple[str, ...]:
    """Normalise ``prev_events``/``auth_events`` of either format to a tuple of ids."""
    out: list[str] = []
    for ref in refs:
        if isinstance(ref, str):
            out.append(ref)
        elif isinstance(ref, list | tuple) and ref and isinstance(ref[0], str):
            out.append(ref[0])
        else:
            raise ValueError(f"bad event reference {ref!r}")
    return tuple(out)

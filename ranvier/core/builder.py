"""Building, hashing and signing events created by this server.

Spec: server-server-api "PDUs", "Auth events selection", "Adding hashes and
signatures to outgoing events"; the PDU schemas of each room version
(``pdu_v1``: ``event_id`` and ``[id, {hashes}]`` references; ``pdu_v3``/``v4``:
plain id references; ``depth_v6``: depth limited to 2**53-1; ``pdu_v11``:
``redacts`` only in ``content``; ``pdu_v12``: the create event has no
``room_id`` and no event lists the create event in ``auth_events``).

Theory of operation: :func:`build_event` is a pure function from the event's
parts, its parents (``prev_events``) and its auth events to a signed
:class:`~ranvier.core.events.Event`. The order is fixed by the spec: assemble
the PDU in the room version's shape, add the content hash, sign the redacted
form, then (v3+) derive the event id from the reference hash. ``unsigned`` is
attached last since nothing covers it. Choosing the auth events from the
room state is :func:`select_auth_events`, a thin layer over
:func:`ranvier.core.auth.auth_types_for_event`.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ranvier.core.auth import auth_types_for_event
from ranvier.core.b64 import encode_base64
from ranvier.core.events import Event, JsonDict, StateKey
from ranvier.core.format import max_depth
from ranvier.core.hashes import compute_reference_hash
from ranvier.core.room_versions import EventFormat, RoomVersion
from ranvier.core.signing import SigningKey, sign_event

__all__ = ["build_event", "new_v1_event_id", "select_auth_events"]

_ID_ALPHABET = string.ascii_letters


def new_v1_event_id(origin: str) -> str:
    """A fresh room v1-v2 event id ``$<18 random letters>:<origin>`` (rooms/v1
    "Event IDs": locally unique opaque id plus the server name)."""
    return "$" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(18)) + ":" + origin


def _refs(events: Sequence[Event], room_version: RoomVersion) -> list[Any]:
    if room_version.event_format is EventFormat.V1:
        return [
            [e.event_id, {"sha256": encode_base64(compute_reference_hash(e.pdu, e.room_version))}]
            for e in events
        ]
    return [e.event_id for e in events]


def build_event(
    *,
    room_version: RoomVersion,
    room_id: str | None,
    sender: str,
    event_type: str,
    content: Mapping[str, Any],
    state_key: str | None = None,
    prev_events: Sequence[Event],
    auth_events: Sequence[Event],
    origin: str,
    signing_key: SigningKey,
    origin_server_ts: int | None = None,
    redacts: str | None = None,
    depth: int | None = None,
    unsigned: Mapping[str, Any] | None = None,
) -> Event:
    """Build and sign a new event of ``room_version``.

    * ``depth`` defaults to the largest depth among ``prev_events`` plus one
      (1 without parents), capped at the version's maximum;
    * ``origin_server_ts`` defaults to now, in milliseconds;
    * rooms v1-v2 get a random ``$...:origin`` event id and reference their
      parents and auth events as ``[event_id, {"sha256": reference hash}]``;
    * ``redacts`` goes to the top level before v11 and into ``content`` from
      v11 on;
    * v12: the create event carries no ``room_id`` (``room_id`` is ignored) and
      no auth events; other events never list the create event in
      ``auth_events`` (it is dropped if passed).

    The event is content-hashed and signed by ``origin`` with ``signing_key``.
    """
    rv = room_version
    is_create = event_type == "m.room.create" and state_key == ""
    if depth is None:
        depth = max((e.depth for e in prev_events), default=0) + 1
    depth = min(depth, max_depth(rv))
    if origin_server_ts is None:
        origin_server_ts = int(time.time() * 1000)

    body = dict(content)
    if redacts is not None and rv.updated_redaction_rules:
        body["redacts"] = redacts

    if rv.room_id_from_create_event:
        if is_create:
            auth_events = ()
        else:
            auth_events = [
                e for e in auth_events if not (e.type == "m.room.create" and e.state_key == "")
            ]

    pdu: JsonDict = {
        "type": event_type,
        "sender": sender,
        "content": body,
        "depth": depth,
        "origin_server_ts": origin_server_ts,
        "prev_events": _refs(prev_events, rv),
        "auth_events": _refs(auth_events, rv),
    }
    if state_key is not None:
        pdu["state_key"] = state_key
    if not (rv.room_id_from_create_event and is_create):
        if room_id is None:
            raise ValueError("room_id is required")
        pdu["room_id"] = room_id
    if redacts is not None and not rv.updated_redaction_rules:
        pdu["redacts"] = redacts
    event_id: str | None = None
    if rv.event_format is EventFormat.V1:
        event_id = new_v1_event_id(origin)
        pdu["event_id"] = event_id

    signed = sign_event(pdu, origin, signing_key, rv)
    if unsigned:
        signed["unsigned"] = dict(unsigned)
    return Event(signed, rv, event_id)


def select_auth_events(
    room_version: RoomVersion,
    event_type: str,
    state_key: str | None,
    sender: str,
    content: Mapping[str, Any],
    state: Mapping[StateKey, Event],
) -> list[Event]:
    """The auth events for a new event, picked from the current room ``state``
    (server-server-api "Auth events selection"), in a stable order."""
    types = auth_types_for_event(room_version, event_type, state_key, sender, content)
    return [state[key] for key in sorted(types) if key in state]

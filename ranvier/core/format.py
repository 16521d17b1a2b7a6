"""PDU format checks: the first of the checks on receipt of a PDU.

Spec: server-server-api "Checks performed on receipt of a PDU" (check 1: "Is a
valid event, otherwise it is dropped"); client-server-api "Size limits";
the PDU schemas of each room version (``data/api/server-server/definitions``
``pdu_v1``, ``pdu_v3``, ``pdu_v4``, ``pdu_v6``, ``pdu_v11``, ``pdu_v12``); rooms
fragment ``v6-canonical-json`` (strict canonical JSON from v6).

Theory of operation: :func:`check_pdu_format` looks at the JSON object only
(no state, no keys) and raises :class:`EventFormatError` with a message naming
the first problem found. It checks, in order: the whole event's size (64 KiB
of canonical JSON), strict canonical JSON for v6+, the common fields and their
types, the per-key byte limits, the identifiers' grammar, and the shape of
``prev_events``/``auth_events`` for the room version's event format (pairs of
``[event_id, {hashes}]`` in v1-v2, plain ids from v3) with their count
limits. Whether the event is *authorised* is not its business (see
:mod:`ranvier.core.auth`); e.g. a v12 create event carrying a ``room_id`` is
well-formed but rejected by the auth rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ranvier.core.canonical_json import CanonicalJsonError, encode_canonical_json
from ranvier.core.ids import InvalidIdentifier, parse_event_id, parse_room_id, parse_user_id
from ranvier.core.room_versions import EventFormat, RoomVersion

__all__ = [
    "MAX_AUTH_EVENTS",
    "MAX_DEPTH",
    "MAX_KEY_BYTES",
    "MAX_PDU_BYTES",
    "MAX_PREV_EVENTS",
    "EventFormatError",
    "check_pdu_format",
    "max_depth",
]

MAX_PDU_BYTES = 65536
"""client-server-api "Size limits": the complete event as canonical JSON."""
MAX_KEY_BYTES = 255
"""Limit on ``sender``, ``room_id``, ``type``, ``state_key`` and ``event_id``."""
MAX_PREV_EVENTS = 20
"""PDU schemas: ``prev_events`` "Must contain less than or equal to 20 events"."""
MAX_AUTH_EVENTS = 10
"""PDU schemas: ``auth_events`` "Must contain less than or equal to 10 events"."""
MAX_DEPTH = 2**63 - 1
"""PDU schemas v1-v5: depth must fit a signed 64-bit integer."""


class EventFormatError(ValueError):
    """The PDU does not match its room version's event format; drop it."""


def max_depth(room_version: RoomVersion) -> int:
    """The largest ``depth`` allowed: 2**63-1, or 2**53-1 where canonical JSON
    is strict (``depth_v6`` schema)."""
    return 2**53 - 1 if room_version.strict_canonical_json else MAX_DEPTH


def _is_int(v: Any) -> bool:
    return type(v) is int


def _check_str(pdu: Mapping[str, Any], key: str, required: bool = True) -> str | None:
    value = pdu.get(key)
    if value is None:
        if required:
            raise EventFormatError(f"missing required key '{key}'")
        if key in pdu:
            raise EventFormatError(f"'{key}' must be a string")
        return None
    if not isinstance(value, str):
        raise EventFormatError(f"'{key}' must be a string")
    if len(value.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise EventFormatError(f"'{key}' is longer than {MAX_KEY_BYTES} bytes")
    return value


def _check_refs(pdu: Mapping[str, Any], key: str, limit: int, rv: RoomVersion) -> None:
    refs = pdu.get(key)
    if not isinstance(refs, list):
        raise EventFormatError(f"'{key}' must be a list")
    if len(refs) > limit:
        raise EventFormatError(f"'{key}' has {len(refs)} entries; at most {limit} are allowed")
    pairs = rv.event_format is EventFormat.V1
    for ref in refs:
        if pairs:
            if not (isinstance(ref, list) and len(ref) == 2 and isinstance(ref[1], dict)):
                raise EventFormatError(f"'{key}' entries must be [event_id, {{hashes}}] pairs")
            ref = ref[0]
        if not isinstance(ref, str):
            raise EventFormatError(f"'{key}' entries must be event ID strings")
        try:
            parse_event_id(ref, rv)
        except InvalidIdentifier as e:
            raise EventFormatError(f"'{key}' entry {ref!r}: {e}") from None


def check_pdu_format(pdu: Any, room_version: RoomVersion) -> None:
    """Raise :class:`EventFormatError` unless ``pdu`` is a well-formed event of
    ``room_version`` (see the module docstring for the list of checks)."""
    rv = room_version
    if not isinstance(pdu, dict):
        raise EventFormatError("event must be a JSON object")
    try:
        size = len(encode_canonical_json(pdu, strict=False))
    except CanonicalJsonError as e:
        raise EventFormatError(f"event is not valid JSON: {e}") from None
    if size > MAX_PDU_BYTES:
        raise EventFormatError(f"event is {size} bytes; at most {MAX_PDU_BYTES} are allowed")
    if rv.strict_canonical_json:
        try:
            encode_canonical_json(pdu, strict=True)
        except CanonicalJsonError as e:
            raise EventFormatError(f"event is not canonical JSON: {e}") from None

    event_type = _check_str(pdu, "type")
    sender = _check_str(pdu, "sender")
    state_key = _check_str(pdu, "state_key", required=False)
    assert sender is not None
    if not isinstance(pdu.get("content"), dict):
        raise EventFormatError("'content' must be an object")
    ts = pdu.get("origin_server_ts")
    if not _is_int(ts):
        raise EventFormatError("'origin_server_ts' must be an integer")
    depth = pdu.get("depth")
    if not isinstance(depth, int) or isinstance(depth, bool):
        raise EventFormatError("'depth' must be an integer")
    if not 0 <= depth <= max_depth(rv):
        raise EventFormatError(f"'depth' must be between 0 and {max_depth(rv)}")
    hashes = pdu.get("hashes")
    if not isinstance(hashes, dict) or not isinstance(hashes.get("sha256"), str):
        raise EventFormatError("'hashes' must be an object with a 'sha256' string")
    signatures = pdu.get("signatures")
    if not isinstance(signatures, dict) or not all(
        isinstance(v, dict) and all(isinstance(s, str) for s in v.values())
        for v in signatures.values()
    ):
        raise EventFormatError("'signatures' must map server names to {key id: signature}")
    if "unsigned" in pdu and not isinstance(pdu["unsigned"], dict):
        raise EventFormatError("'unsigned' must be an object")

    is_v12_create = (
        rv.room_id_from_create_event and event_type == "m.room.create" and state_key == ""
    )
    room_id = _check_str(pdu, "room_id", required=not is_v12_create)
    if rv.event_format is EventFormat.V1:
        event_id = _check_str(pdu, "event_id")
        assert event_id is not None
        try:
            parse_event_id(event_id, rv)
        except InvalidIdentifier as e:
            raise EventFormatError(f"'event_id': {e}") from None
    try:
        parse_user_id(sender)
    except InvalidIdentifier as e:
        raise EventFormatError(f"'sender': {e}") from None
    if room_id is not None:
        try:
            parse_room_id(room_id, rv)
        except InvalidIdentifier as e:
            raise EventFormatError(f"'room_id': {e}") from None

    _check_refs(pdu, "prev_events", MAX_PREV_EVENTS, rv)
    _check_refs(pdu, "auth_events", MAX_AUTH_EVENTS, rv)

    if event_type == "m.room.redaction":
        if rv.updated_redaction_rules:
            redacts = pdu["content"].get("redacts", pdu.get("redacts"))
        else:
            redacts = pdu.get("redacts")
        if redacts is not None and not isinstance(redacts, str):
            raise EventFormatError("'redacts' must be an event ID string")

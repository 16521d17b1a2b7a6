"""Content hashes, reference hashes and hash-derived identifiers.

Spec: server-server-api "Calculating the content hash for an event" and
"Calculating the reference hash for an event"; rooms/v3 "Event IDs"
(standard unpadded Base64), rooms fragment ``v4-event-ids`` (URL-safe), rooms/v12
and appendices "Room IDs" (the room id is the create event's id with ``!``).

Theory of operation:

* the *content hash* covers the whole event except ``unsigned``,
  ``signatures`` and ``hashes``; it lets a receiver detect that it was sent a
  redacted copy (the signature covers only the redacted form, which includes
  the content hash);
* the *reference hash* covers the redacted event without ``signatures`` and
  ``unsigned``; from room v3 on it *is* the event id.

Canonical JSON is strict for room versions that enforce it (v6+) and lenient
for older ones, so hashes of historical events with floats or large integers
match what their senders computed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from ranvier.core.b64 import decode_base64, encode_base64
from ranvier.core.canonical_json import encode_canonical_json
from ranvier.core.redaction import redact
from ranvier.core.room_versions import EventFormat, RoomVersion

__all__ = [
    "add_content_hash",
    "check_content_hash",
    "compute_content_hash",
    "compute_event_id",
    "compute_reference_hash",
    "compute_room_id_for_create",
]

JsonDict = dict[str, Any]

_NOT_IN_CONTENT_HASH = ("unsigned", "signatures", "hashes")


def compute_content_hash(pdu: Mapping[str, Any], *, strict: bool = False) -> bytes:
    """SHA-256 over canonical JSON of ``pdu`` without ``unsigned``, ``signatures``
    and ``hashes`` (server-server-api "Calculating the content hash").

    ``strict`` selects strict canonical JSON; the default is lenient so the
    hash of any event a peer could have hashed is computable. Raises
    :class:`~ranvier.core.canonical_json.CanonicalJsonError` on unencodable input.
    """
    body = {k: v for k, v in pdu.items() if k not in _NOT_IN_CONTENT_HASH}
    return hashlib.sha256(encode_canonical_json(body, strict=strict)).digest()


def add_content_hash(pdu: Mapping[str, Any]) -> JsonDict:
    """Return a copy of ``pdu`` with ``hashes.sha256`` set to its content hash.

    Other algorithms already present in ``hashes`` are kept.
    """
    out = dict(pdu)
    hashes = pdu.get("hashes")
    new_hashes = dict(hashes) if isinstance(hashes, dict) else {}
    new_hashes["sha256"] = encode_base64(compute_content_hash(pdu))
    out["hashes"] = new_hashes
    return out


def check_content_hash(pdu: Mapping[str, Any]) -> bool:
    """True if ``hashes.sha256`` is present, valid Base64 and matches the content.

    False means the event must be treated as redacted (server-server-api
    "Validating hashes and signatures on received events").
    """
    hashes = pdu.get("hashes")
    if not isinstance(hashes, dict):
        return False
    claimed = hashes.get("sha256")
    if not isinstance(claimed, str):
        return False
    try:
        expected = decode_base64(claimed)
        actual = compute_content_hash(pdu)
    except ValueError:
        return False
    return expected == actual


def compute_reference_hash(pdu: Mapping[str, Any], room_version: RoomVersion) -> bytes:
    """SHA-256 of the redacted event without ``signatures``, ``unsigned`` and
    ``age_ts`` (server-server-api "Calculating the reference hash")."""
    redacted = redact(pdu, room_version)
    redacted.pop("signatures", None)
    redacted.pop("unsigned", None)
    redacted.pop("age_ts", None)
    data = encode_canonical_json(redacted, strict=room_version.strict_canonical_json)
    return hashlib.sha256(data).digest()


def compute_event_id(pdu: Mapping[str, Any], room_version: RoomVersion) -> str:
    """The event id of ``pdu``.

    Rooms v1-v2: the ``event_id`` field (KeyError if absent). Room v3: ``$`` +
    standard unpadded Base64 of the reference hash. Rooms v4+: ``$`` + URL-safe
    unpadded Base64 of the reference hash.
    """
    fmt = room_version.event_format
    if fmt is EventFormat.V1:
        event_id = pdu["event_id"]
        if not isinstance(event_id, str):
            raise ValueError("event_id must be a string")
        return event_id
    digest = compute_reference_hash(pdu, room_version)
    return "$" + encode_base64(digest, urlsafe=fmt is EventFormat.V3)


def compute_room_id_for_create(create_pdu: Mapping[str, Any], room_version: RoomVersion) -> str:
    """The room id defined by a room v12+ ``m.room.create`` event: ``!`` + URL-safe
    unpadded Base64 of its reference hash (rooms/v12; appendices "Room IDs")."""
    if not room_version.room_id_from_create_event:
        raise ValueError(f"room version {room_version.identifier} does not derive room ids")
    return "!" + encode_base64(compute_reference_hash(create_pdu, room_version), urlsafe=True)

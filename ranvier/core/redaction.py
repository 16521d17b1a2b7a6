"""The redaction algorithm: which parts of an event survive redaction.

Spec: client-server-api "Redactions"; rooms fragments ``v1-redactions``
(rooms v1-v5), ``v6-redactions`` (v6-v7: ``m.room.aliases`` loses its special
case), rooms/v8 "Redactions" (``m.room.join_rules`` keeps ``allow``),
``v9-redactions`` (v9-v10: ``m.room.member`` keeps
``join_authorised_via_users_server``) and ``v11-redactions`` (v11+: top level
no longer keeps ``origin``, ``membership``, ``prev_state``; create keeps all
content; power levels keep ``invite``; member keeps
``third_party_invite.signed``; redaction keeps ``redacts`` in content).

Theory of operation: redaction is a pure function of the PDU and the room
version's :class:`~ranvier.core.room_versions.RedactionAlgorithm`. Two tables
drive it, built once per algorithm: the top-level keys kept, and per event
type the content keys kept. Redaction is used three ways: for the reference
hash (event ids of v3+ rooms), for signing and verifying events (signatures
cover the redacted form) and for serving redacted events. ``unsigned`` is not
in any keep list, so it is dropped like everything else not listed.

The result is a new top-level dict and a new ``content`` dict; nested values
(``hashes``, ``signatures``, kept content values) are shared with the input
and must not be mutated in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ranvier.core.room_versions import RedactionAlgorithm, RoomVersion

__all__ = ["redact", "redacted_content"]

JsonDict = dict[str, Any]

_TOP_V1: frozenset[str] = frozenset(
    {
        "event_id",
        "type",
        "room_id",
        "sender",
        "state_key",
        "content",
        "hashes",
        "signatures",
        "depth",
        "prev_events",
        "prev_state",
        "auth_events",
        "origin",
        "origin_server_ts",
        "membership",
    }
)
_TOP_V11: frozenset[str] = _TOP_V1 - {"origin", "membership", "prev_state"}

_PL_V1 = frozenset(
    {"ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default"}
)

_CONTENT_V1: Mapping[str, frozenset[str]] = {
    "m.room.member": frozenset({"membership"}),
    "m.room.create": frozenset({"creator"}),
    "m.room.join_rules": frozenset({"join_rule"}),
    "m.room.power_levels": _PL_V1,
    "m.room.aliases": frozenset({"aliases"}),
    "m.room.history_visibility": frozenset({"history_visibility"}),
}
_CONTENT_V6 = {k: v for k, v in _CONTENT_V1.items() if k != "m.room.aliases"}
_CONTENT_V8 = {**_CONTENT_V6, "m.room.join_rules": frozenset({"join_rule", "allow"})}
_CONTENT_V9 = {
    **_CONTENT_V8,
    "m.room.member": frozenset({"membership", "join_authorised_via_users_server"}),
}
_CONTENT_V11 = {
    **_CONTENT_V9,
    # m.room.create keeps everything: handled specially in redacted_content().
    "m.room.power_levels": _PL_V1 | {"invite"},
    "m.room.redaction": frozenset({"redacts"}),
}

_TABLES: Mapping[RedactionAlgorithm, tuple[frozenset[str], Mapping[str, frozenset[str]]]] = {
    RedactionAlgorithm.V1: (_TOP_V1, _CONTENT_V1),
    RedactionAlgorithm.V6: (_TOP_V1, _CONTENT_V6),
    RedactionAlgorithm.V8: (_TOP_V1, _CONTENT_V8),
    RedactionAlgorithm.V9: (_TOP_V1, _CONTENT_V9),
    RedactionAlgorithm.V11: (_TOP_V11, _CONTENT_V11),
}


def redacted_content(
    event_type: str, content: Mapping[str, Any], room_version: RoomVersion
) -> JsonDict:
    """Return the part of ``content`` an event of ``event_type`` keeps when redacted."""
    algorithm = room_version.redaction
    if algorithm is RedactionAlgorithm.V11 and event_type == "m.room.create":
        return dict(content)
    keep = _TABLES[algorithm][1].get(event_type)
    if keep is None:
        return {}
    out = {k: v for k, v in content.items() if k in keep}
    if algorithm is RedactionAlgorithm.V11 and event_type == "m.room.member":
        # The spec keeps "the signed key of the third_party_invite key". When
        # the object has no "signed", Synapse keeps an empty object and Ruma drops
        # the key; the event id depends on it, so we follow the larger network
        # (Synapse). A non-object third_party_invite is dropped.
        tpi = content.get("third_party_invite")
        if isinstance(tpi, dict):
            out["third_party_invite"] = {"signed": tpi["signed"]} if "signed" in tpi else {}
    return out


def redact(pdu: Mapping[str, Any], room_version: RoomVersion) -> JsonDict:
    """Return a redacted copy of ``pdu`` per the room version's algorithm.

    Idempotent: ``redact(redact(e, rv), rv) == redact(e, rv)``. A missing or
    non-object ``content`` becomes ``{}``.
    """
    top = _TABLES[room_version.redaction][0]
    out = {k: v for k, v in pdu.items() if k in top}
    content = pdu.get("content")
    event_type = pdu.get("type")
    if isinstance(content, dict) and isinstance(event_type, str):
        out["content"] = redacted_content(event_type, content, room_version)
    else:
        out["content"] = {}
    return out

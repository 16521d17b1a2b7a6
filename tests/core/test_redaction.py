"""Redaction per room version (rooms fragments v1/v6/v9/v11-redactions, rooms/v8)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranvier.core.redaction import redact
from ranvier.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion, get_room_version

ALL_VERSIONS = sorted(KNOWN_ROOM_VERSIONS.values(), key=lambda rv: int(rv.identifier))

BASE: dict[str, Any] = {
    "event_id": "$e:x",
    "room_id": "!r:x",
    "sender": "@a:x",
    "origin": "x",
    "origin_server_ts": 1,
    "depth": 2,
    "prev_events": [],
    "auth_events": [],
    "prev_state": [],
    "membership": "join",
    "hashes": {"sha256": "h"},
    "signatures": {"x": {"ed25519:1": "s"}},
    "unsigned": {"age": 5},
    "redacts": "$other:x",
    "extra_top": 1,
}


def ev(event_type: str, content: dict[str, Any], state_key: str | None = "") -> dict[str, Any]:
    pdu = {**BASE, "type": event_type, "content": content}
    if state_key is not None:
        pdu["state_key"] = state_key
    return pdu


def kept_content(version: str, event_type: str, content: dict[str, Any]) -> set[str]:
    return set(redact(ev(event_type, content), get_room_version(version))["content"])


def test_top_level_keys_v1_to_v10() -> None:
    out = redact(ev("m.room.message", {"body": "hi"}, None), get_room_version("10"))
    assert set(out) == {
        "event_id", "room_id", "sender", "origin", "origin_server_ts", "depth",
        "prev_events", "auth_events", "prev_state", "membership", "hashes",
        "signatures", "type", "content",
    }  # fmt: skip
    assert out["content"] == {}


def test_top_level_keys_v11_drop_origin_membership_prev_state() -> None:
    out = redact(ev("m.room.message", {"body": "hi"}, None), get_room_version("11"))
    assert set(out) == {
        "event_id", "room_id", "sender", "origin_server_ts", "depth",
        "prev_events", "auth_events", "hashes", "signatures", "type", "content",
    }  # fmt: skip


PL = {
    "ban": 1, "events": {}, "events_default": 2, "invite": 3, "kick": 4, "redact": 5,
    "state_default": 6, "users": {}, "users_default": 7, "notifications": {"room": 50},
}  # fmt: skip

CASES = [
    # (versions, type, content, kept keys)
    ("1 5", "m.room.aliases", {"aliases": ["#a:x"], "x": 1}, {"aliases"}),
    ("6 10 11 12", "m.room.aliases", {"aliases": ["#a:x"]}, set()),
    ("1 10", "m.room.create", {"creator": "@a:x", "room_version": "1", "m.federate": False},
     {"creator"}),
    ("11 12", "m.room.create", {"creator": "@a:x", "room_version": "11", "m.federate": False},
     {"creator", "room_version", "m.federate"}),
    ("1 7", "m.room.join_rules", {"join_rule": "restricted", "allow": []}, {"join_rule"}),
    ("8 9 11", "m.room.join_rules", {"join_rule": "restricted", "allow": [], "x": 1},
     {"join_rule", "allow"}),
    ("1 8", "m.room.member",
     {"membership": "join", "join_authorised_via_users_server": "@b:y", "displayname": "A"},
     {"membership"}),
    ("9 10 11 12", "m.room.member",
     {"membership": "join", "join_authorised_via_users_server": "@b:y", "displayname": "A"},
     {"membership", "join_authorised_via_users_server"}),
    ("1 10", "m.room.power_levels", PL,
     {"ban", "events", "events_default", "kick", "redact", "state_default", "users",
      "users_default"}),
    ("11 12", "m.room.power_levels", PL,
     {"ban", "events", "events_default", "invite", "kick", "redact", "state_default", "users",
      "users_default"}),
    ("1 6 11", "m.room.history_visibility", {"history_visibility": "shared", "x": 1},
     {"history_visibility"}),
    ("1 10", "m.room.redaction", {"redacts": "$e:x", "reason": "spam"}, set()),
    ("11 12", "m.room.redaction", {"redacts": "$e:x", "reason": "spam"}, {"redacts"}),
    ("1 11", "m.room.name", {"name": "secret"}, set()),
    ("1 11", "m.room.topic", {"topic": "secret"}, set()),
]  # fmt: skip


@pytest.mark.parametrize(("versions", "event_type", "content", "kept"), CASES)
def test_content_kept(versions: str, event_type: str, content: dict[str, Any], kept: set[str]):
    for version in versions.split():
        assert kept_content(version, event_type, content) == kept, version


def test_kept_values_are_unchanged() -> None:
    content = {"membership": "join", "join_authorised_via_users_server": "@b:y", "x": [1]}
    out = redact(ev("m.room.member", content, "@a:x"), get_room_version("9"))
    assert out["content"] == {"membership": "join", "join_authorised_via_users_server": "@b:y"}
    assert out["state_key"] == "@a:x"
    assert out["signatures"] == BASE["signatures"]


def test_v11_member_keeps_only_third_party_invite_signed() -> None:
    signed = {"mxid": "@a:x", "token": "t", "signatures": {}}
    content = {
        "membership": "invite",
        "third_party_invite": {"display_name": "alice", "signed": signed},
    }
    for version, expected in (
        ("10", {"membership": "invite"}),
        ("11", {"membership": "invite", "third_party_invite": {"signed": signed}}),
    ):
        out = redact(ev("m.room.member", content, "@a:x"), get_room_version(version))
        assert out["content"] == expected
    # no "signed": an empty object survives (as in Synapse; the spec is silent)
    content2 = {"membership": "invite", "third_party_invite": {"display_name": "alice"}}
    out = redact(ev("m.room.member", content2, "@a:x"), get_room_version("11"))
    assert out["content"] == {"membership": "invite", "third_party_invite": {}}
    # not an object: dropped
    content3 = {"membership": "invite", "third_party_invite": "junk"}
    out = redact(ev("m.room.member", content3, "@a:x"), get_room_version("11"))
    assert out["content"] == {"membership": "invite"}


def test_redacts_top_level_dropped_in_all_versions() -> None:
    for rv in ALL_VERSIONS:
        assert "redacts" not in redact(ev("m.room.redaction", {}, None), rv)


def test_unsigned_and_unknown_keys_dropped_and_input_untouched() -> None:
    pdu = ev("m.room.member", {"membership": "join", "displayname": "A"}, "@a:x")
    before = repr(pdu)
    for rv in ALL_VERSIONS:
        out = redact(pdu, rv)
        assert "unsigned" not in out and "extra_top" not in out
    assert repr(pdu) == before


def test_missing_or_bad_content() -> None:
    pdu = {k: v for k, v in ev("m.room.member", {}).items() if k != "content"}
    assert redact(pdu, get_room_version("10"))["content"] == {}
    pdu["content"] = "not an object"
    assert redact(pdu, get_room_version("10"))["content"] == {}


json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
json_value = st.recursive(
    json_leaf,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
    max_leaves=10,
)
event_types = st.sampled_from(
    [
        "m.room.member", "m.room.create", "m.room.join_rules", "m.room.power_levels",
        "m.room.aliases", "m.room.history_visibility", "m.room.redaction", "m.room.message",
    ]
)  # fmt: skip
content_keys = st.sampled_from(
    [
        "membership", "creator", "join_rule", "allow", "ban", "invite", "users", "aliases",
        "history_visibility", "redacts", "join_authorised_via_users_server",
        "third_party_invite", "body", "x",
    ]
)  # fmt: skip
top_keys = st.sampled_from([*BASE, "state_key", "age_ts", "foo"])


@settings(max_examples=300)
@given(
    event_types,
    st.dictionaries(content_keys, json_value, max_size=6),
    st.dictionaries(top_keys, json_value, max_size=8),
    st.sampled_from(ALL_VERSIONS),
)
def test_redaction_is_idempotent(
    event_type: str, content: dict[str, Any], top: dict[str, Any], rv: RoomVersion
) -> None:
    pdu = {**top, "type": event_type, "content": content}
    once = redact(pdu, rv)
    assert redact(once, rv) == once
    assert set(once["content"]) <= set(content)
    assert set(once) - {"content"} <= set(pdu)

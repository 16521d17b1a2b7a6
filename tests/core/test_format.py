"""PDU format checks: a valid event per room version, then each rule broken."""

from __future__ import annotations

from typing import Any

import pytest

from ranvier.core.canonical_json import encode_canonical_json
from ranvier.core.format import (
    MAX_PDU_BYTES,
    EventFormatError,
    check_pdu_format,
    max_depth,
)
from ranvier.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion, get_room_version

HASH_URL = "Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg"
HASH_STD = "acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk"


def ref(rv: RoomVersion, n: int = 0) -> Any:
    if rv.identifier in ("1", "2"):
        return [f"$ev{n}:example.org", {"sha256": "aGFzaA"}]
    return "$" + (HASH_STD if rv.identifier == "3" else HASH_URL)


def valid(rv: RoomVersion) -> dict[str, Any]:
    pdu: dict[str, Any] = {
        "type": "m.room.message",
        "sender": "@alice:example.org",
        "room_id": "!" + HASH_URL if rv.room_id_from_create_event else "!room:example.org",
        "content": {"body": "hi"},
        "origin_server_ts": 1700000000000,
        "depth": 5,
        "prev_events": [ref(rv, 1)],
        "auth_events": [ref(rv, 2)],
        "hashes": {"sha256": "aGFzaA"},
        "signatures": {"example.org": {"ed25519:1": "c2ln"}},
        "unsigned": {"age": 1},
    }
    if rv.identifier in ("1", "2"):
        pdu["event_id"] = "$abc:example.org"
    return pdu


VERSIONS = list(KNOWN_ROOM_VERSIONS.values())


@pytest.mark.parametrize("rv", VERSIONS, ids=lambda rv: f"v{rv.identifier}")
def test_valid_event_passes(rv: RoomVersion) -> None:
    check_pdu_format(valid(rv), rv)


def broken(rv: RoomVersion, **changes: Any) -> dict[str, Any]:
    pdu = valid(rv)
    for key, value in changes.items():
        if value is DELETE:
            del pdu[key]
        else:
            pdu[key] = value
    return pdu


DELETE = object()
V10 = get_room_version("10")

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("10", {"type": DELETE}, "missing required key 'type'"),
    ("10", {"type": 5}, "'type' must be a string"),
    ("10", {"type": "t" * 256}, "'type' is longer than 255 bytes"),
    ("10", {"sender": DELETE}, "missing required key 'sender'"),
    ("10", {"sender": "@" + "a" * 250 + ":x.org"}, "'sender' is longer than 255 bytes"),
    ("10", {"sender": "alice"}, "'sender': user ID must start with '@'"),
    ("10", {"state_key": "s" * 256}, "'state_key' is longer than 255 bytes"),
    ("10", {"state_key": None}, "'state_key' must be a string"),
    ("10", {"state_key": 1}, "'state_key' must be a string"),
    ("10", {"room_id": DELETE}, "missing required key 'room_id'"),
    ("10", {"room_id": "!" + "r" * 250 + ":x.org"}, "'room_id' is longer than 255 bytes"),
    ("10", {"room_id": "#alias:x.org"}, "'room_id': room ID must start with '!'"),
    ("12", {"room_id": "!room:example.org"}, "'room_id': room ID must be '!' and 43"),
    ("1", {"event_id": DELETE}, "missing required key 'event_id'"),
    ("1", {"event_id": "$" + "e" * 250 + ":x.org"}, "'event_id' is longer than 255 bytes"),
    ("1", {"event_id": "$nodomain"}, "'event_id': event ID has no ':'"),
    ("10", {"content": DELETE}, "'content' must be an object"),
    ("10", {"content": []}, "'content' must be an object"),
    ("10", {"origin_server_ts": DELETE}, "'origin_server_ts' must be an integer"),
    ("10", {"origin_server_ts": "1"}, "'origin_server_ts' must be an integer"),
    ("5", {"origin_server_ts": 1.5}, "'origin_server_ts' must be an integer"),
    ("10", {"depth": DELETE}, "'depth' must be an integer"),
    ("10", {"depth": True}, "'depth' must be an integer"),
    ("10", {"depth": -1}, "'depth' must be between 0 and 9007199254740991"),
    ("5", {"depth": 2**63}, "'depth' must be between 0 and 9223372036854775807"),
    ("10", {"depth": 2**53}, "not canonical JSON: integer 9007199254740992 is outside"),
    ("10", {"hashes": DELETE}, "'hashes' must be an object with a 'sha256' string"),
    ("10", {"hashes": {"sha512": "x"}}, "'hashes' must be an object with a 'sha256'"),
    ("10", {"signatures": DELETE}, "'signatures' must map"),
    ("10", {"signatures": {"x": "y"}}, "'signatures' must map"),
    ("10", {"signatures": {"x": {"ed25519:1": 5}}}, "'signatures' must map"),
    ("10", {"unsigned": []}, "'unsigned' must be an object"),
    ("10", {"prev_events": DELETE}, "'prev_events' must be a list"),
    ("10", {"auth_events": {}}, "'auth_events' must be a list"),
    ("10", {"prev_events": ["$" + HASH_URL] * 21}, "'prev_events' has 21 entries; at most 20"),
    ("10", {"auth_events": ["$" + HASH_URL] * 11}, "'auth_events' has 11 entries; at most 10"),
    ("10", {"prev_events": [["$a:x", {}]]}, "'prev_events' entries must be event ID strings"),
    ("10", {"prev_events": ["$a:x.org"]}, "'prev_events' entry '\\$a:x.org': event ID must be"),
    ("3", {"auth_events": ["$" + HASH_URL]}, "'auth_events' entry .* 43 base64"),
    ("1", {"prev_events": ["$a:x.org"]}, "'prev_events' entries must be \\[event_id, \\{hashes"),
    ("1", {"prev_events": [["$a:x.org"]]}, "must be \\[event_id"),
    ("1", {"auth_events": [[5, {}]]}, "'auth_events' entries must be event ID strings"),
    ("10", {"content": {"x": 1.5}}, "not canonical JSON: float"),
    ("10", {"content": {"x": 2**60}}, "not canonical JSON: integer"),
    ("10", {"content": {"x": "a" * MAX_PDU_BYTES}}, "event is \\d+ bytes; at most 65536"),
    ("1", {"content": {"x": float("nan")}}, "not valid JSON"),
    ("10", {"type": "m.room.redaction", "redacts": 5}, "'redacts' must be an event ID"),
    ("11", {"type": "m.room.redaction", "content": {"redacts": []}}, "'redacts' must be"),
]


@pytest.mark.parametrize(("version", "changes", "message"), CASES)
def test_rule_rejected(version: str, changes: dict[str, Any], message: str) -> None:
    rv = get_room_version(version)
    with pytest.raises(EventFormatError, match=message):
        check_pdu_format(broken(rv, **changes), rv)


def test_non_object() -> None:
    with pytest.raises(EventFormatError, match="must be a JSON object"):
        check_pdu_format([1], V10)


def test_limits_are_inclusive() -> None:
    rv = V10
    check_pdu_format(broken(rv, prev_events=["$" + HASH_URL] * 20), rv)
    check_pdu_format(broken(rv, auth_events=["$" + HASH_URL] * 10), rv)
    check_pdu_format(broken(rv, type="t" * 255, state_key="s" * 255), rv)
    check_pdu_format(broken(rv, depth=max_depth(rv)), rv)
    pdu = valid(rv)
    base = len(encode_canonical_json(pdu))
    pdu["content"] = {"body": "x" * (MAX_PDU_BYTES - base + 2)}
    check_pdu_format(pdu, rv)  # exactly 65536 bytes
    pdu["content"]["body"] += "x"
    with pytest.raises(EventFormatError, match="65537 bytes"):
        check_pdu_format(pdu, rv)


def test_lenient_versions_accept_floats_and_big_ints() -> None:
    rv = get_room_version("5")
    check_pdu_format(broken(rv, content={"users": {"@bob:x": 50.57}, "n": 2**60}), rv)
    check_pdu_format(broken(rv, depth=2**62), rv)


def test_v12_create_without_room_id() -> None:
    rv = get_room_version("12")
    create = broken(rv, type="m.room.create", state_key="", room_id=DELETE)
    create.update(prev_events=[], auth_events=[])
    check_pdu_format(create, rv)
    # other v12 events need a room_id
    with pytest.raises(EventFormatError, match="missing required key 'room_id'"):
        check_pdu_format(broken(rv, room_id=DELETE), rv)
    # in v11 the create event still needs one
    v11 = get_room_version("11")
    with pytest.raises(EventFormatError, match="room_id"):
        check_pdu_format(broken(v11, type="m.room.create", state_key="", room_id=DELETE), v11)


def test_historical_sender_accepted() -> None:
    check_pdu_format(broken(V10, sender="@Old User!:example.org"), V10)

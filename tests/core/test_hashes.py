"""Content hashes, reference hashes, event ids and v12 room ids.

Each id is computed two ways: by ranvier, and by a from-scratch recomputation
in this file (stdlib ``json`` canonical form, hand-written key lists), and,
when the Synapse oracle is configured, checked against Synapse itself."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import subprocess
from typing import Any

import pytest

from ranvier.core.b64 import encode_base64
from ranvier.core.events import Event
from ranvier.core.hashes import (
    add_content_hash,
    check_content_hash,
    compute_content_hash,
    compute_event_id,
    compute_reference_hash,
    compute_room_id_for_create,
)
from ranvier.core.redaction import redact
from ranvier.core.room_versions import KNOWN_ROOM_VERSIONS, get_room_version
from tests.conftest import need_service

V1, V3, V4, V10, V11, V12 = (get_room_version(v) for v in ("1", "3", "4", "10", "11", "12"))


def stdlib_canonical(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


MESSAGE: dict[str, Any] = {
    "auth_events": ["$create", "$pl", "$member"],
    "content": {"body": "hello", "msgtype": "m.text"},
    "depth": 7,
    "hashes": {"sha256": "placeholder"},
    "origin_server_ts": 1700000000000,
    "prev_events": ["$prev"],
    "room_id": "!room:example.org",
    "sender": "@alice:example.org",
    "signatures": {"example.org": {"ed25519:1": "sig"}},
    "type": "m.room.message",
    "unsigned": {"age": 12},
}


def test_content_hash_by_hand() -> None:
    body = {k: v for k, v in MESSAGE.items() if k not in ("unsigned", "signatures", "hashes")}
    assert compute_content_hash(MESSAGE) == hashlib.sha256(stdlib_canonical(body)).digest()


def test_add_and_check_content_hash() -> None:
    hashed = add_content_hash(MESSAGE)
    assert MESSAGE["hashes"] == {"sha256": "placeholder"}  # input untouched
    assert check_content_hash(hashed)
    assert not check_content_hash(MESSAGE)
    # unsigned/signatures do not matter; content does
    assert check_content_hash({**hashed, "unsigned": {"age": 99}, "signatures": {}})
    assert not check_content_hash({**hashed, "content": {"body": "tampered"}})
    assert not check_content_hash(redact(hashed, V10))
    assert not check_content_hash({**hashed, "hashes": {"sha256": "!!!"}})
    assert not check_content_hash({**hashed, "hashes": "x"})
    assert not check_content_hash({k: v for k, v in hashed.items() if k != "hashes"})
    # other algorithms are kept
    multi = add_content_hash({**MESSAGE, "hashes": {"sha512": "x"}})
    assert set(multi["hashes"]) == {"sha256", "sha512"}


def reference_by_hand(pdu: dict[str, Any]) -> bytes:
    # rooms v4-v10 redaction of an m.room.message: content emptied, whitelist kept
    keep = {"event_id", "type", "room_id", "sender", "state_key", "content", "hashes",
            "signatures", "depth", "prev_events", "prev_state", "auth_events", "origin",
            "origin_server_ts", "membership"}  # fmt: skip
    red = {k: v for k, v in pdu.items() if k in keep and k not in ("signatures", "unsigned")}
    red["content"] = {}
    return hashlib.sha256(stdlib_canonical(red)).digest()


def test_event_id_two_ways() -> None:
    pdu = add_content_hash(MESSAGE)
    digest = reference_by_hand(pdu)
    assert compute_reference_hash(pdu, V10) == digest
    assert compute_event_id(pdu, V3) == "$" + base64.b64encode(digest).decode().rstrip("=")
    assert compute_event_id(pdu, V4) == "$" + base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert Event(pdu, V10).event_id == compute_event_id(pdu, V10)
    # signatures and unsigned do not change the id; content does not either
    # (it is redacted away) but the content hash does
    assert (
        compute_event_id({**pdu, "signatures": {}, "unsigned": {}}, V10) == Event(pdu, V10).event_id
    )
    assert compute_event_id({**pdu, "content": {}}, V10) == Event(pdu, V10).event_id
    assert (
        compute_event_id(add_content_hash({**pdu, "content": {}}), V10) != Event(pdu, V10).event_id
    )


def test_v1_event_id_is_field() -> None:
    assert compute_event_id({**MESSAGE, "event_id": "$abc:example.org"}, V1) == "$abc:example.org"
    with pytest.raises(KeyError):
        compute_event_id(MESSAGE, V1)


def test_v12_room_id_from_create() -> None:
    create = add_content_hash(
        {
            "type": "m.room.create",
            "state_key": "",
            "sender": "@alice:example.org",
            "content": {"room_version": "12"},
            "depth": 1,
            "origin_server_ts": 1,
            "prev_events": [],
            "auth_events": [],
        }
    )
    room_id = compute_room_id_for_create(create, V12)
    event_id = compute_event_id(create, V12)
    assert room_id == "!" + event_id[1:]
    assert room_id == "!" + encode_base64(compute_reference_hash(create, V12), urlsafe=True)
    assert Event(create, V12).room_id == room_id
    with pytest.raises(ValueError):
        compute_room_id_for_create(create, V11)


def test_lenient_hash_for_old_room_floats() -> None:
    pl = {**MESSAGE, "type": "m.room.power_levels", "state_key": "",
          "content": {"users": {"@bob:localhost": 50.57}}}  # fmt: skip
    body = {k: v for k, v in pl.items() if k not in ("unsigned", "signatures", "hashes")}
    assert compute_content_hash(pl) == hashlib.sha256(stdlib_canonical(body)).digest()
    compute_event_id(add_content_hash(pl), get_room_version("5"))


# --- Synapse as an oracle -------------------------------------------------

ORACLE = """
import hashlib, json, sys
from synapse.api.room_versions import KNOWN_ROOM_VERSIONS
from synapse.events import make_event_from_dict
from synapse.events.utils import prune_event
from synapse.crypto.event_signing import compute_content_hash
out = []
for item in json.load(sys.stdin):
    rv = KNOWN_ROOM_VERSIONS[item["room_version"]]
    ev = make_event_from_dict(dict(item["pdu"]), rv)
    pruned = prune_event(ev).get_pdu_json()
    pruned.pop("signatures", None)
    pruned.pop("unsigned", None)
    _, h = compute_content_hash(item["pdu"], hashlib.sha256)
    out.append({"event_id": ev.event_id, "room_id": ev.room_id, "pruned": pruned,
                "content_hash": h.hex()})
json.dump(out, sys.stdout)
"""


def random_pdus(n: int, seed: int) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(seed)
    types = {
        "m.room.member": ["membership", "displayname", "join_authorised_via_users_server",
                          "third_party_invite", "avatar_url"],
        "m.room.create": ["creator", "room_version", "m.federate", "predecessor"],
        "m.room.join_rules": ["join_rule", "allow", "other"],
        "m.room.power_levels": ["ban", "events", "invite", "kick", "notifications", "users"],
        "m.room.aliases": ["aliases", "x"],
        "m.room.history_visibility": ["history_visibility", "x"],
        "m.room.redaction": ["redacts", "reason"],
        "m.room.message": ["body", "msgtype", "m.relates_to"],
    }  # fmt: skip
    values: list[Any] = [
        "s", "é😀\u2028", 0, 2**53 - 1, -5, True, None, [], {"a": [1, {"b": "c"}]},
        {"signed": {"mxid": "@a:x", "token": "t"}, "display_name": "d"},
    ]  # fmt: skip
    out = []
    for i in range(n):
        version = rng.choice(list(KNOWN_ROOM_VERSIONS))
        event_type = rng.choice(list(types))
        content = {k: rng.choice(values) for k in rng.sample(types[event_type], 2)}
        pdu: dict[str, Any] = {
            "type": event_type,
            "sender": f"@u{i}:example.org",
            "content": content,
            "depth": rng.randrange(1, 1000),
            "origin_server_ts": rng.randrange(2**40),
            "prev_events": [f"$p{i}"],
            "auth_events": [f"$a{i}"],
            "hashes": {"sha256": "aGFzaA"},
            "signatures": {"example.org": {"ed25519:1": "c2ln"}},
            "unsigned": {"age": i},
            "origin": "example.org",
            "membership": "join",
            "prev_state": [],
            "room_id": "!room:example.org",
        }
        if event_type != "m.room.message":
            pdu["state_key"] = "" if event_type != "m.room.member" else pdu["sender"]
        if event_type == "m.room.redaction":
            pdu["redacts"] = "$target"
        if version in ("1", "2"):
            pdu["event_id"] = f"$e{i}:example.org"
            pdu["prev_events"] = [[f"$p{i}:example.org", {"sha256": "aGFzaA"}]]
            pdu["auth_events"] = [[f"$a{i}:example.org", {"sha256": "aGFzaA"}]]
        if version == "12" and event_type == "m.room.create":
            del pdu["room_id"]
            pdu["prev_events"] = []
            pdu["auth_events"] = []
        out.append((version, pdu))
    return out


@pytest.mark.synapse
def test_against_synapse_oracle() -> None:
    python = need_service("RANVIER_SYNAPSE_PYTHON", "Synapse oracle")
    cases = random_pdus(300, seed=1234)
    request = [{"room_version": v, "pdu": p} for v, p in cases]
    proc = subprocess.run(
        [python, "-c", ORACLE], input=json.dumps(request), capture_output=True, text=True,
        check=True, timeout=120,
    )  # fmt: skip
    answers = json.loads(proc.stdout)
    for (version, pdu), answer in zip(cases, answers, strict=True):
        rv = get_room_version(version)
        assert compute_event_id(pdu, rv) == answer["event_id"], (version, pdu)
        assert Event(pdu, rv).room_id == answer["room_id"]
        mine = redact(pdu, rv)
        mine.pop("signatures", None)
        assert mine == answer["pruned"], (version, pdu)
        assert compute_content_hash(pdu).hex() == answer["content_hash"]

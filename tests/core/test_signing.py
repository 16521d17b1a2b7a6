"""Signing: the spec's cryptographic test vectors (appendices "Cryptographic
Test Vectors"), key files, property tests and which servers must sign."""

from __future__ import annotations

from typing import Any

import pytest
import signedjson.key
import signedjson.sign
from hypothesis import given, settings
from hypothesis import strategies as st

from ranvier.core.b64 import decode_base64, encode_base64
from ranvier.core.hashes import check_content_hash
from ranvier.core.redaction import redact
from ranvier.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion, get_room_version
from ranvier.core.signing import (
    SignatureError,
    SigningKey,
    decode_signing_key_base64,
    decode_verify_key_base64,
    generate_signing_key,
    read_dendrite_pem,
    read_signing_keys,
    servers_that_must_sign,
    sign_event,
    sign_json,
    signature_key_ids,
    verify_event_signature,
    verify_json_signature,
    write_dendrite_pem,
    write_signing_keys,
)

SEED = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"
KEY = decode_signing_key_base64("ed25519", "1", SEED)
V1 = get_room_version("1")


def test_key_basics() -> None:
    assert KEY.key_id == "ed25519:1"
    assert KEY.version == "1"
    # the spec's seed has non-zero trailing bits; its canonical spelling ends in "0"
    assert encode_base64(KEY.seed) == SEED[:-1] + "0"
    assert decode_base64(SEED) == decode_base64(SEED[:-1] + "0")
    assert decode_verify_key_base64(KEY.verify_key_base64).encode() == KEY.verify_key_bytes
    with pytest.raises(ValueError, match="32 bytes"):
        decode_signing_key_base64("ed25519", "1", "AAAA")
    with pytest.raises(ValueError, match="algorithm"):
        decode_signing_key_base64("rsa", "1", SEED)
    with pytest.raises(ValueError, match="version"):
        generate_signing_key("a b")
    with pytest.raises(ValueError):
        decode_verify_key_base64("AAAA")


def test_spec_vector_json_empty() -> None:
    assert sign_json({}, "domain", KEY) == {
        "signatures": {
            "domain": {
                "ed25519:1": (
                    "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtT"
                    "dGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"
                )
            }
        }
    }


def test_spec_vector_json_data() -> None:
    assert sign_json({"one": 1, "two": "Two"}, "domain", KEY) == {
        "one": 1,
        "signatures": {
            "domain": {
                "ed25519:1": (
                    "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL"
                    "53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
                )
            }
        },
        "two": "Two",
    }


def test_spec_vector_minimal_event() -> None:
    event = {
        "room_id": "!x:domain",
        "sender": "@a:domain",
        "origin": "domain",
        "origin_server_ts": 1000000,
        "signatures": {},
        "hashes": {},
        "type": "X",
        "content": {},
        "prev_events": [],
        "auth_events": [],
        "depth": 3,
        "unsigned": {"age_ts": 1000000},
    }
    assert sign_event(event, "domain", KEY, V1) == {
        "auth_events": [],
        "content": {},
        "depth": 3,
        "hashes": {"sha256": "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"},
        "origin": "domain",
        "origin_server_ts": 1000000,
        "prev_events": [],
        "room_id": "!x:domain",
        "sender": "@a:domain",
        "signatures": {
            "domain": {
                "ed25519:1": (
                    "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPT"
                    "Rl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"
                )
            }
        },
        "type": "X",
        "unsigned": {"age_ts": 1000000},
    }


def test_spec_vector_redactable_event() -> None:
    event = {
        "content": {"body": "Here is the message content"},
        "event_id": "$0:domain",
        "origin": "domain",
        "origin_server_ts": 1000000,
        "type": "m.room.message",
        "room_id": "!r:domain",
        "sender": "@u:domain",
        "signatures": {},
        "unsigned": {"age_ts": 1000000},
    }
    signed = sign_event(event, "domain", KEY, V1)
    assert signed == {
        "content": {"body": "Here is the message content"},
        "event_id": "$0:domain",
        "hashes": {"sha256": "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"},
        "origin": "domain",
        "origin_server_ts": 1000000,
        "type": "m.room.message",
        "room_id": "!r:domain",
        "sender": "@u:domain",
        "signatures": {
            "domain": {
                "ed25519:1": (
                    "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUw"
                    "u6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA"
                )
            }
        },
        "unsigned": {"age_ts": 1000000},
    }
    assert event["signatures"] == {}  # input untouched
    assert check_content_hash(signed)
    # the signature holds for the full event and its redacted copy
    verify_event_signature(signed, V1, "domain", "ed25519:1", KEY.verify_key_bytes)
    verify_event_signature(redact(signed, V1), V1, "domain", "ed25519:1", KEY.verify_key)
    tampered = {**signed, "origin_server_ts": 1000001}
    with pytest.raises(SignatureError):
        verify_event_signature(tampered, V1, "domain", "ed25519:1", KEY.verify_key_bytes)


def test_verify_errors() -> None:
    signed = sign_json({"a": 1}, "domain", KEY)
    verify_json_signature(signed, "domain", "ed25519:1", KEY.verify_key_bytes)
    verify_json_signature({**signed, "unsigned": {"x": 1}}, "domain", "ed25519:1", KEY.verify_key)
    other = generate_signing_key("2")
    cases: list[tuple[dict[str, Any], str, str, bytes, str]] = [
        ({"a": 1}, "domain", "ed25519:1", KEY.verify_key_bytes, "no signatures"),
        (signed, "elsewhere", "ed25519:1", KEY.verify_key_bytes, "no signatures"),
        (signed, "domain", "ed25519:9", KEY.verify_key_bytes, "no signature from"),
        (signed, "domain", "ed25519:1", other.verify_key_bytes, "bad signature"),
        (signed, "domain", "ed25519:1", b"short", "bad signature"),
        ({**signed, "a": 2}, "domain", "ed25519:1", KEY.verify_key_bytes, "bad signature"),
        ({"signatures": {"domain": {"ed25519:1": "!!"}}}, "domain", "ed25519:1",
         KEY.verify_key_bytes, "not base64"),
        ({"signatures": {"domain": {"ed25519:1": 5}}}, "domain", "ed25519:1",
         KEY.verify_key_bytes, "not a string"),
    ]  # fmt: skip
    for obj, server, key_id, vk, message in cases:
        with pytest.raises(SignatureError, match=message):
            verify_json_signature(obj, server, key_id, vk)


def test_multiple_signers_keep_each_other() -> None:
    other = generate_signing_key("abc")
    both = sign_json(sign_json({"x": 1}, "a.org", KEY), "b.org", other)
    both = sign_json(both, "a.org", other)
    assert set(both["signatures"]) == {"a.org", "b.org"}
    assert signature_key_ids(both, "a.org") == ["ed25519:1", "ed25519:abc"]
    assert signature_key_ids(both, "c.org") == []
    verify_json_signature(both, "a.org", "ed25519:1", KEY.verify_key_bytes)
    verify_json_signature(both, "b.org", "ed25519:abc", other.verify_key_bytes)


def test_interop_with_signedjson() -> None:
    """Signatures made by ranvier verify with signedjson (Synapse's library) and back."""
    sj_key = signedjson.key.decode_signing_key_base64("ed25519", "1", SEED)
    obj = {"name": "example.org", "nested": {"b": [1, "é"]}, "unsigned": {"age": 1}}
    mine = sign_json(obj, "example.org", KEY)
    theirs = signedjson.sign.sign_json(dict(obj), "example.org", sj_key)
    assert mine["signatures"] == theirs["signatures"]
    signedjson.sign.verify_signed_json(mine, "example.org", signedjson.key.get_verify_key(sj_key))


def test_synapse_key_file_round_trip() -> None:
    seed2 = encode_base64(bytes(range(32)))
    text = f"ed25519 a_AbCd {encode_base64(KEY.seed)}\n\ned25519 b_2 {seed2}\n"
    keys = read_signing_keys(text)
    assert [k.key_id for k in keys] == ["ed25519:a_AbCd", "ed25519:b_2"]
    assert keys[0].seed == KEY.seed
    assert write_signing_keys(keys) == text.replace("\n\n", "\n")
    # the same format signedjson reads
    sj = signedjson.key.read_signing_keys(write_signing_keys(keys).splitlines())
    assert [k.version for k in sj] == ["a_AbCd", "b_2"]
    assert bytes(sj[0]) == keys[0].seed
    for bad in ("ed25519 a", "ed25519 a b c", "rsa a " + SEED):
        with pytest.raises(ValueError, match="line 1"):
            read_signing_keys(bad)


# the shape Dendrite's generate-keys writes (Go encoding/pem with a Key-ID header)
DENDRITE_PEM = """-----BEGIN MATRIX PRIVATE KEY-----
Key-ID: ed25519:c8NsuQ

7KRZiZ2sTyRR8uqqUjRwczuwRXXkUMYIUHq4Mc3t4bE=
-----END MATRIX PRIVATE KEY-----
"""


def test_dendrite_pem_round_trip() -> None:
    (key,) = read_dendrite_pem(DENDRITE_PEM)
    assert key.key_id == "ed25519:c8NsuQ"
    assert encode_base64(key.seed) == "7KRZiZ2sTyRR8uqqUjRwczuwRXXkUMYIUHq4Mc3t4bE"
    assert write_dendrite_pem([key]) == DENDRITE_PEM
    # without the blank line after the headers, and after another block
    compact = "-----BEGIN OTHER-----\nAAAA\n-----END OTHER-----\n" + DENDRITE_PEM.replace(
        "\n\n", "\n"
    )
    assert read_dendrite_pem(compact)[0].seed == key.seed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no MATRIX PRIVATE KEY"),
        ("-----BEGIN MATRIX PRIVATE KEY-----\nAAAA\n", "no END line"),
        (DENDRITE_PEM.replace("ed25519:c8NsuQ", "rsa:1"), "Key-ID"),
        (DENDRITE_PEM.replace("7KRZ", "7K*Z"), "not base64"),
        (DENDRITE_PEM.replace("7KRZiZ2sTyRR8uqq", ""), "32 bytes"),
    ],
)
def test_dendrite_pem_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_dendrite_pem(text)


json_leaf = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=6)
json_obj = st.dictionaries(
    st.text(max_size=6).filter(lambda k: k not in ("signatures", "unsigned")),
    st.recursive(
        json_leaf,
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
        max_leaves=8,
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=60, deadline=None)
@given(json_obj, st.data())
def test_sign_then_verify_and_any_flip_fails(obj: dict[str, Any], data: st.DataObject) -> None:
    signed = sign_json(obj, "s.example", KEY)
    verify_json_signature(signed, "s.example", "ed25519:1", KEY.verify_key_bytes)
    # flip one bit of the signature
    sig = bytearray(decode_base64(signed["signatures"]["s.example"]["ed25519:1"]))
    i = data.draw(st.integers(0, len(sig) * 8 - 1))
    sig[i // 8] ^= 1 << (i % 8)
    bad = {**signed, "signatures": {"s.example": {"ed25519:1": encode_base64(bytes(sig))}}}
    with pytest.raises(SignatureError):
        verify_json_signature(bad, "s.example", "ed25519:1", KEY.verify_key_bytes)
    # change one top-level value of the signed content
    key = data.draw(st.sampled_from(sorted(obj)))
    changed = {**signed, key: [obj[key]]}
    with pytest.raises(SignatureError):
        verify_json_signature(changed, "s.example", "ed25519:1", KEY.verify_key_bytes)


ROOM_VERSIONS = list(KNOWN_ROOM_VERSIONS.values())


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(ROOM_VERSIONS), st.text(max_size=20))
def test_sign_event_verifies_in_every_version(rv: RoomVersion, body: str) -> None:
    pdu = {
        "type": "m.room.message",
        "room_id": "!r:s.example",
        "sender": "@u:s.example",
        "content": {"body": body},
        "depth": 4,
        "origin_server_ts": 5,
        "prev_events": [],
        "auth_events": [],
    }
    if rv.event_id_in_event:
        pdu["event_id"] = "$1:s.example"
    signed = sign_event(pdu, "s.example", KEY, rv)
    assert check_content_hash(signed)
    verify_event_signature(signed, rv, "s.example", "ed25519:1", KEY.verify_key_bytes)
    verify_event_signature(redact(signed, rv), rv, "s.example", "ed25519:1", KEY.verify_key)
    with pytest.raises(SignatureError):
        verify_event_signature(
            {**signed, "depth": 5}, rv, "s.example", "ed25519:1", KEY.verify_key_bytes
        )


def member(membership: str, **content: Any) -> dict[str, Any]:
    return {
        "type": "m.room.member",
        "sender": "@alice:a.org",
        "state_key": "@alice:a.org",
        "event_id": "$1:b.org",
        "content": {"membership": membership, **content},
    }


@pytest.mark.parametrize(
    ("pdu", "version", "expected"),
    [
        (member("join"), "10", {"a.org"}),
        (member("join"), "1", {"a.org", "b.org"}),
        (member("join"), "2", {"a.org", "b.org"}),
        (member("join", join_authorised_via_users_server="@bob:c.org:8448"), "8",
         {"a.org", "c.org:8448"}),
        (member("join", join_authorised_via_users_server="@bob:c.org"), "7", {"a.org"}),
        (member("leave", join_authorised_via_users_server="@bob:c.org"), "10", {"a.org"}),
        (member("invite", third_party_invite={"signed": {}}), "10", set()),
        (member("invite", third_party_invite={"signed": {}}), "1", {"b.org"}),
        ({"type": "m.room.message", "sender": "@x:[::1]:80", "content": {}}, "11", {"[::1]:80"}),
    ],
)  # fmt: skip
def test_servers_that_must_sign(pdu: dict[str, Any], version: str, expected: set[str]) -> None:
    assert servers_that_must_sign(pdu, get_room_version(version)) == expected


def test_servers_that_must_sign_errors() -> None:
    with pytest.raises(SignatureError, match="sender"):
        servers_that_must_sign({"type": "m.room.message", "sender": "bad"}, V1)
    with pytest.raises(SignatureError, match="event_id"):
        servers_that_must_sign({"type": "x", "sender": "@a:b", "event_id": "nodomain"}, V1)


def test_signing_key_is_frozen() -> None:
    with pytest.raises(AttributeError):
        KEY.version = "2"  # type: ignore[misc]
    assert isinstance(generate_signing_key("x"), SigningKey)
    assert "nacl" not in repr(KEY)

"""Key responses (checks, validity rules), our published keys, and the key store on
SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from ranvier.config.keyfile import OldVerifyKey, ServerKeys
from ranvier.core.b64 import encode_base64
from ranvier.core.signing import generate_signing_key, sign_json
from ranvier.db import Database
from ranvier.federation.key_response import (
    MAX_VALIDITY_MS,
    KeyResponseError,
    ServerKey,
    check_notary_signature,
    parse_key_response,
)
from ranvier.federation.key_store import KeyStore
from ranvier.federation.local_keys import MIN_VALIDITY_MS, LocalServerKeys

KEY = generate_signing_key("cur")
OLD = generate_signing_key("old")
NOW = 1_700_000_000_000


def response(
    server: str = "a.org", valid_until: int = NOW + 3_600_000, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "server_name": server,
        "valid_until_ts": valid_until,
        "verify_keys": {KEY.key_id: {"key": KEY.verify_key_base64}},
        "old_verify_keys": {OLD.key_id: {"key": OLD.verify_key_base64, "expired_ts": NOW - 1000}},
        **extra,
    }
    return sign_json(body, server, KEY)


def test_parse_good_response() -> None:
    keys = parse_key_response(
        response(), expected_server="a.org", fetched_ts=NOW, from_server="a.org"
    )
    by_id = {k.key_id: k for k in keys}
    assert by_id[KEY.key_id].verify_key == KEY.verify_key_bytes
    assert by_id[KEY.key_id].expired_ts is None
    assert by_id[OLD.key_id].expired_ts == NOW - 1000
    assert by_id[OLD.key_id].verify_key == OLD.verify_key_bytes


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda r: {**r, "server_name": "evil.org"}, "not 'a.org'"),
        (lambda r: {**r, "valid_until_ts": NOW + 1}, "self-signature"),  # tampered
        (lambda r: {**r, "signatures": {}}, "not signed"),
        (lambda r: {**r, "valid_until_ts": "soon"}, "valid_until_ts"),
        (lambda r: {**r, "verify_keys": {KEY.key_id: {"key": "!!"}}}, "base64"),
        (
            lambda r: {**r, "verify_keys": {KEY.key_id: {"key": encode_base64(b"x" * 31)}}},
            "32-byte",
        ),
        (
            lambda r: sign_json({k: v for k, v in r.items() if k != "signatures"}, "a.org", OLD),
            "any key",
        ),
        (lambda r: [r], "not an object"),
    ],
)
def test_bad_responses_refused(mangle: Any, message: str) -> None:
    with pytest.raises(KeyResponseError, match=message):
        parse_key_response(
            mangle(response()), expected_server="a.org", fetched_ts=NOW, from_server="a.org"
        )


def test_old_key_needs_expired_ts() -> None:
    body = response()
    del body["signatures"]
    body["old_verify_keys"] = {OLD.key_id: {"key": OLD.verify_key_base64}}
    with pytest.raises(KeyResponseError, match="expired_ts"):
        parse_key_response(
            sign_json(body, "a.org", KEY),
            expected_server="a.org",
            fetched_ts=NOW,
            from_server="a.org",
        )


def test_validity_rules() -> None:
    current = ServerKey("a.org", KEY.key_id, b"k" * 32, NOW + 1000, None, NOW, "a.org")
    assert current.valid_at(NOW + 1000) and not current.valid_at(NOW + 1001)
    # rooms v1-v4: valid_until_ts is ignored
    assert current.valid_at(NOW + 10**12, enforce_validity=False)
    # never trusted for more than 7 days past the fetch, whatever it claims
    far = ServerKey("a.org", KEY.key_id, b"k" * 32, NOW + 10**12, None, NOW, "a.org")
    assert far.valid_at(NOW + MAX_VALIDITY_MS) and not far.valid_at(NOW + MAX_VALIDITY_MS + 1)
    # old keys: only up to expired_ts, in every room version
    old = ServerKey("a.org", OLD.key_id, b"k" * 32, NOW + 10**9, NOW - 5, NOW, "a.org")
    assert old.valid_at(NOW - 5) and not old.valid_at(NOW - 4)
    assert not old.valid_at(NOW, enforce_validity=False)


def test_notary_signature() -> None:
    notary = generate_signing_key("n")
    cosigned = sign_json(response(), "notary.org", notary)
    check_notary_signature(cosigned, "notary.org", {notary.key_id: notary.verify_key_bytes})
    with pytest.raises(KeyResponseError, match="trusted key"):
        check_notary_signature(
            cosigned, "notary.org", {notary.key_id + "x": notary.verify_key_bytes}
        )
    with pytest.raises(KeyResponseError, match="not signed by"):
        check_notary_signature(response(), "notary.org", {notary.key_id: notary.verify_key_bytes})
    impostor = generate_signing_key("n")
    with pytest.raises(KeyResponseError, match="notary signature"):
        check_notary_signature(cosigned, "notary.org", {notary.key_id: impostor.verify_key_bytes})


def test_local_keys_response_and_refresh() -> None:
    clock = [NOW]
    keys = ServerKeys(KEY, (OldVerifyKey(OLD.key_id, OLD.verify_key_base64, NOW - 7),))
    local = LocalServerKeys("me.org", keys, 4 * 3_600_000, clock=lambda: clock[0])
    first = local.response()
    assert first["valid_until_ts"] == NOW + 4 * 3_600_000
    assert first["old_verify_keys"] == {
        OLD.key_id: {"key": OLD.verify_key_base64, "expired_ts": NOW - 7}
    }
    parsed = parse_key_response(
        first, expected_server="me.org", fetched_ts=NOW, from_server="me.org"
    )
    assert {k.key_id for k in parsed} == {KEY.key_id, OLD.key_id}
    body = local.response_bytes()
    clock[0] += 2 * 3_600_000 - 1
    assert local.response_bytes() is body  # cached until half the period is gone
    clock[0] += 1
    assert local.response()["valid_until_ts"] == clock[0] + 4 * 3_600_000
    short = LocalServerKeys("me.org", keys, 1000, clock=lambda: NOW)
    assert short.response()["valid_until_ts"] == NOW + MIN_VALIDITY_MS


async def test_key_store(database: Database) -> None:
    store = KeyStore(database)
    older = response(valid_until=NOW + 10)
    newer = response(valid_until=NOW + 20)
    k_old = parse_key_response(older, expected_server="a.org", fetched_ts=NOW, from_server="n.org")
    k_new = parse_key_response(
        newer, expected_server="a.org", fetched_ts=NOW + 5, from_server="a.org"
    )
    await store.store_response(k_new, newer)
    await store.store_response(k_old, older)  # staler: must not roll back
    keys = {k.key_id: k for k in await store.keys_for("a.org")}
    assert keys[KEY.key_id] == next(k for k in k_new if k.key_id == KEY.key_id)
    assert keys[OLD.key_id].expired_ts == NOW - 1000
    stored = await store.responses_for("a.org")
    assert [s.response for s in stored] == [newer]
    assert (stored[0].fetched_ts, stored[0].from_server, stored[0].valid_until_ts) == (
        NOW + 5,
        "a.org",
        NOW + 20,
    )
    assert await store.keys_for("b.org") == []

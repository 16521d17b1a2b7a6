"""End-to-end encryption keys over real HTTP with real Ed25519 signatures: upload,
query, claim (one-time keys in upload order, then the fallback key), the key counts in
/sync, bad input."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Client
from tests.api.e2ee_helpers import DeviceCrypto, verify
from tests.api.sync_helpers import V3, register, sync
from tests.api.test_directory_fixtures import Hs, hs  # noqa: F401


async def upload(client: Client, token: str, body: dict[str, Any], expect: int = 200) -> Any:
    status, out = await client.request("POST", f"{V3}/keys/upload", body, token=token)
    assert status == expect, out
    return out


async def whoami(client: Client, token: str) -> tuple[str, str]:
    status, body = await client.request("GET", f"{V3}/account/whoami", token=token)
    assert status == 200, body
    return str(body["user_id"]), str(body["device_id"])


async def device_of(client: Client, token: str) -> DeviceCrypto:
    user_id, device_id = await whoami(client, token)
    return DeviceCrypto(user_id, device_id)


async def test_upload_query_claim(client: Client) -> None:
    alice, a_tok = await register(client, "alice")
    bob, b_tok = await register(client, "bob")
    dev = await device_of(client, a_tok)
    otks = dev.one_time_keys(3)
    out = await upload(client, a_tok, {"device_keys": dev.device_keys(), "one_time_keys": otks})
    assert out == {"one_time_key_counts": {"signed_curve25519": 3}}
    fallback = dev.one_time_keys(1, fallback=True)
    out = await upload(client, a_tok, {"fallback_keys": fallback})
    assert out["one_time_key_counts"] == {"signed_curve25519": 3}
    # The same key again is accepted; the same id with other contents is not.
    first_id = next(iter(otks))
    await upload(client, a_tok, {"one_time_keys": {first_id: otks[first_id]}})
    other = {first_id: next(iter(dev.one_time_keys(1).values()))}
    await upload(client, a_tok, {"one_time_keys": other}, expect=400)

    # Query by bob: alice's keys as uploaded, signature valid, unsigned present.
    status, q = await client.request(
        "POST", f"{V3}/keys/query", {"device_keys": {alice: []}}, token=b_tok
    )
    assert status == 200, q
    got = q["device_keys"][alice][dev.device_id]
    assert got["keys"] == dev.device_keys()["keys"]
    assert verify(got, alice, f"ed25519:{dev.device_id}", dev.ed25519_public)
    assert "unsigned" in got and q["failures"] == {}
    # A named device shows its display name; a specific unknown device gives nothing.
    status, _ = await client.request(
        "PUT", f"{V3}/devices/{dev.device_id}", {"display_name": "Phone"}, token=a_tok
    )
    assert status == 200
    status, q = await client.request(
        "POST", f"{V3}/keys/query", {"device_keys": {alice: [dev.device_id, "NOPE"]}}, token=b_tok
    )
    assert q["device_keys"][alice][dev.device_id]["unsigned"]["device_display_name"] == "Phone"
    assert list(q["device_keys"][alice]) == [dev.device_id]
    status, q = await client.request(
        "POST", f"{V3}/keys/query", {"device_keys": {bob: []}}, token=b_tok
    )
    assert q["device_keys"] == {bob: {}}

    # Sync shows the counts and the unused fallback key.
    body = await sync(client, a_tok)
    assert body["device_one_time_keys_count"] == {"signed_curve25519": 3}
    assert body["device_unused_fallback_key_types"] == ["signed_curve25519"]

    # Claims hand out the one-time keys in upload order, then the fallback key.
    claimed: list[str] = []
    for _ in range(5):
        status, c = await client.request(
            "POST",
            f"{V3}/keys/claim",
            {"one_time_keys": {alice: {dev.device_id: "signed_curve25519"}}},
            token=b_tok,
        )
        assert status == 200, c
        keys = c["one_time_keys"][alice][dev.device_id]
        assert len(keys) == 1
        key_id, key = next(iter(keys.items()))
        assert verify(key, alice, f"ed25519:{dev.device_id}", dev.ed25519_public)
        claimed.append(key_id)
    assert claimed[:3] == sorted(otks)
    assert claimed[3] == claimed[4] == next(iter(fallback))
    body = await sync(client, a_tok)
    assert body["device_one_time_keys_count"] == {"signed_curve25519": 0}
    assert body["device_unused_fallback_key_types"] == []
    # A device with no keys is left out.
    status, c = await client.request(
        "POST",
        f"{V3}/keys/claim",
        {"one_time_keys": {bob: {"X": "signed_curve25519"}}},
        token=b_tok,
    )
    assert c == {"one_time_keys": {}, "failures": {}}


async def test_bad_uploads_and_queries(client: Client) -> None:
    alice, a_tok = await register(client, "alice")
    dev = await device_of(client, a_tok)
    keys = dev.device_keys()
    for broken in (
        {k: v for k, v in keys.items() if k != "algorithms"},
        {k: v for k, v in keys.items() if k != "signatures"},
        {**keys, "user_id": "@mallory:test.local"},
        {**keys, "device_id": "OTHER"},
        {**keys, "keys": "nope"},
        "not an object",
    ):
        out = await upload(client, a_tok, {"device_keys": broken}, expect=400)
        assert out["errcode"] == "M_BAD_JSON"
    out = await upload(client, a_tok, {"one_time_keys": {"nocolon": "x"}}, expect=400)
    assert out["errcode"] == "M_BAD_JSON"
    out = await upload(client, a_tok, {"one_time_keys": []}, expect=400)
    assert out["errcode"] == "M_BAD_JSON"
    status, out = await client.request("POST", f"{V3}/keys/upload", raw=b"{nope", token=a_tok)
    assert status == 400 and out["errcode"] == "M_NOT_JSON"
    for body in ({"device_keys": []}, {"device_keys": {alice: "x"}}, {}):
        status, out = await client.request("POST", f"{V3}/keys/query", body, token=a_tok)
        assert status == 400 and out["errcode"] == "M_BAD_JSON", (body, out)
    for body in ({"one_time_keys": []}, {"one_time_keys": {alice: {"D": 1}}}, {}):
        status, out = await client.request("POST", f"{V3}/keys/claim", body, token=a_tok)
        assert status == 400 and out["errcode"] == "M_BAD_JSON", (body, out)
    status, out = await client.request("GET", f"{V3}/keys/changes?from=bad&to=s0", token=a_tok)
    assert status == 400 and out["errcode"] == "M_INVALID_PARAM"
    status, out = await client.request("POST", f"{V3}/keys/query", {"device_keys": {}})
    assert status == 401


async def test_nul_characters_refused_on_both_databases(hs: Hs) -> None:  # noqa: F811
    """Ids go into text columns: PostgreSQL cannot store NUL, so it is a 400, not a 500."""
    _, tok = await hs.user("alice")
    for path, body in [
        ("/keys/upload", {"one_time_keys": {"alg:\u0000x": "k"}}),
        ("/keys/upload", {"fallback_keys": {"alg\u0000:x": "k"}}),
        ("/keys/query", {"device_keys": {"@a\u0000:test.local": []}}),
        ("/keys/claim", {"one_time_keys": {"@a\u0000:test.local": {"D": "a"}}}),
        ("/keys/signatures/upload", {"@a:test.local": {"k\u0000": {}}}),
        ("/keys/device_signing/upload", {"master_key": {"user_id": "\u0000"}}),
        ("/room_keys/version", {"algorithm": "a\u0000", "auth_data": {}}),
    ]:
        status, out = await hs.request("POST", V3 + path, body, token=tok)
        assert status == 400 and out["errcode"] == "M_BAD_JSON", (path, out)
    await hs.ok("POST", f"{V3}/room_keys/version", {"algorithm": "a", "auth_data": {}}, token=tok)
    status, out = await hs.request("GET", f"{V3}/room_keys/keys/%00?version=1", token=tok)
    assert status == 400, out
    status, out = await hs.request(
        "PUT",
        f"{V3}/sendToDevice/m.x/t1",
        {"messages": {"@a\u0000:test.local": {"D": {}}}},
        token=tok,
    )
    assert status == 400 and out["errcode"] == "M_BAD_JSON", out

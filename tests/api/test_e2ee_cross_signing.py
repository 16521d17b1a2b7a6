"""Cross-signing over real HTTP with real Ed25519 signatures: the first upload without
UIA, a replacement only with it, the checks on keys (missing master key, bad master
signature, a key id that is a device id), signatures on devices and on other users'
master keys (seen only by the signer), and the device list changes they cause."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Client
from tests.api.e2ee_helpers import CrossSigningKeys, DeviceCrypto, sign, verify
from tests.api.sync_helpers import V3, sync, two_in_room


async def post(client: Client, path: str, body: Any, token: str) -> tuple[int, Any]:
    return await client.request("POST", f"{V3}{path}", body, token=token)


async def setup_device(client: Client, token: str) -> DeviceCrypto:
    status, me = await client.request("GET", f"{V3}/account/whoami", token=token)
    dev = DeviceCrypto(me["user_id"], me["device_id"])
    status, out = await post(client, "/keys/upload", {"device_keys": dev.device_keys()}, token)
    assert status == 200, out
    return dev


async def test_upload_keys_uia_and_checks(client: Client) -> None:
    alice, a_tok, bob, b_tok, _ = await two_in_room(client)
    dev = await setup_device(client, a_tok)
    keys = CrossSigningKeys(alice)

    # Without a master key nothing can be uploaded.
    status, out = await post(
        client, "/keys/device_signing/upload", {"self_signing_key": keys.key("self_signing")}, a_tok
    )
    assert status == 400 and out["errcode"] == "M_MISSING_PARAM"
    # A self-signing key not signed by the master key.
    forged = keys.key("self_signing")
    forged["signatures"] = {}
    sign(forged, alice, "ed25519:" + keys.public(keys.master), keys.self_signing)
    status, out = await post(
        client,
        "/keys/device_signing/upload",
        {"master_key": keys.key("master"), "self_signing_key": forged},
        a_tok,
    )
    assert status == 400 and out["errcode"] == "M_INVALID_SIGNATURE"
    # A key whose public key is a device id of the user.
    clash = {
        "user_id": alice,
        "usage": ["master"],
        "keys": {f"ed25519:{dev.device_id}": dev.device_id},
    }
    status, out = await post(client, "/keys/device_signing/upload", {"master_key": clash}, a_tok)
    assert status == 403 and out["errcode"] == "M_FORBIDDEN"
    # Someone else's key, a wrong usage.
    status, out = await post(
        client,
        "/keys/device_signing/upload",
        {"master_key": {**keys.key("master"), "user_id": bob}},
        a_tok,
    )
    assert status == 400
    status, out = await post(
        client,
        "/keys/device_signing/upload",
        {"master_key": {**keys.key("master"), "usage": ["x"]}},
        a_tok,
    )
    assert status == 400

    # The first upload needs no UIA; repeating it neither.
    b_next = (await sync(client, b_tok))["next_batch"]
    for _ in range(2):
        status, out = await post(client, "/keys/device_signing/upload", keys.upload_body(), a_tok)
        assert status == 200, out
    body = await sync(client, b_tok, since=b_next)
    assert body["device_lists"]["changed"] == [alice]

    # Alice sees her three keys; bob sees master and self-signing only.
    status, q = await post(client, "/keys/query", {"device_keys": {alice: []}}, a_tok)
    assert q["master_keys"][alice]["keys"] == keys.key("master")["keys"]
    assert q["user_signing_keys"][alice]["usage"] == ["user_signing"]
    status, q = await post(client, "/keys/query", {"device_keys": {alice: []}}, b_tok)
    assert set(q["master_keys"]) == {alice} and set(q["self_signing_keys"]) == {alice}
    assert q["user_signing_keys"] == {}

    # A new master key asks for UIA, and is accepted with the password.
    new = CrossSigningKeys(alice)
    status, out = await post(client, "/keys/device_signing/upload", new.upload_body(), a_tok)
    assert status == 401 and "session" in out, out
    auth = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": alice},
        "password": "pw",
        "session": out["session"],
    }
    status, out = await post(
        client, "/keys/device_signing/upload", {**new.upload_body(), "auth": auth}, a_tok
    )
    assert status == 200, out
    status, q = await post(client, "/keys/query", {"device_keys": {alice: []}}, b_tok)
    assert q["master_keys"][alice]["keys"] == new.key("master")["keys"]


async def test_signatures_upload(client: Client) -> None:
    alice, a_tok, bob, b_tok, _ = await two_in_room(client)
    a_dev = await setup_device(client, a_tok)
    b_dev = await setup_device(client, b_tok)
    a_keys, b_keys = CrossSigningKeys(alice), CrossSigningKeys(bob)
    for tok, keys in ((a_tok, a_keys), (b_tok, b_keys)):
        status, out = await post(client, "/keys/device_signing/upload", keys.upload_body(), tok)
        assert status == 200, out
    b_next = (await sync(client, b_tok))["next_batch"]
    a_next = (await sync(client, a_tok))["next_batch"]

    # Alice's self-signing key signs her device; her device signs her master key.
    signed_dev = a_dev.device_keys()
    ssk_id = "ed25519:" + a_keys.public(a_keys.self_signing)
    sign(signed_dev, alice, ssk_id, a_keys.self_signing)
    master = a_keys.key("master")
    sign(master, alice, f"ed25519:{a_dev.device_id}", a_dev.ed25519)
    # Alice's user-signing key signs bob's master key.
    bob_master = b_keys.key("master")
    usk_id = "ed25519:" + a_keys.public(a_keys.user_signing)
    sign(bob_master, alice, usk_id, a_keys.user_signing)
    # One bad signature, one unknown key.
    bad = a_dev.device_keys()
    bad["signatures"][alice][ssk_id] = signed_dev["signatures"][alice][ssk_id][:-4] + "AAAA"
    body = {
        alice: {a_dev.device_id: signed_dev, a_keys.public(a_keys.master): master, "NOPE": master},
        bob: {b_keys.public(b_keys.master): bob_master},
    }
    status, out = await post(client, "/keys/signatures/upload", body, a_tok)
    assert status == 200, out
    assert set(out["failures"]) == {alice} and set(out["failures"][alice]) == {"NOPE"}, out
    status, out = await post(
        client, "/keys/signatures/upload", {alice: {a_dev.device_id: bad}}, a_tok
    )
    assert out["failures"][alice][a_dev.device_id]["errcode"] == "M_INVALID_SIGNATURE"
    status, out = await post(client, "/keys/signatures/upload", {alice: "x"}, a_tok)
    assert status == 400 and out["errcode"] == "M_BAD_JSON"

    # Bob sees alice's device signed by her self-signing key, her master key signed by
    # her device; alice sees her signature on bob's master key, bob does not.
    status, q = await post(client, "/keys/query", {"device_keys": {alice: [], bob: []}}, b_tok)
    got_dev = q["device_keys"][alice][a_dev.device_id]
    assert verify(got_dev, alice, ssk_id, a_keys.public(a_keys.self_signing))
    got_master = q["master_keys"][alice]
    assert verify(got_master, alice, f"ed25519:{a_dev.device_id}", a_dev.ed25519_public)
    assert alice not in q["master_keys"][bob].get("signatures", {})
    status, q = await post(client, "/keys/query", {"device_keys": {bob: []}}, a_tok)
    assert verify(q["master_keys"][bob], alice, usk_id, a_keys.public(a_keys.user_signing))
    assert b_dev.device_id in q["device_keys"][bob]

    body = await sync(client, b_tok, since=b_next)
    assert body["device_lists"]["changed"] == [alice]
    # Her signature on bob's key is news to alice only.
    body = await sync(client, a_tok, since=a_next)
    assert body["device_lists"]["changed"] == [alice, bob]

    # A new user-signing key (UIA: a key differs) is news to alice only.
    a_next, b_next = body["next_batch"], (await sync(client, b_tok))["next_batch"]
    new_usk = CrossSigningKeys(alice, master=a_keys.master)
    auth = {"type": "m.login.password", "user": alice, "password": "pw"}
    status, out = await post(
        client,
        "/keys/device_signing/upload",
        {"user_signing_key": new_usk.key("user_signing")},
        a_tok,
    )
    assert status == 401
    status, out = await post(
        client,
        "/keys/device_signing/upload",
        {
            "user_signing_key": new_usk.key("user_signing"),
            "auth": {**auth, "session": out["session"]},
        },
        a_tok,
    )
    assert status == 200, out
    body = await sync(client, b_tok, since=b_next, timeout=0)
    assert body["device_lists"]["changed"] == []
    body = await sync(client, a_tok, since=a_next)
    assert body["device_lists"]["changed"] == [alice]

"""Real end-to-end encryption through ranvier, as clients do it, with vodozemac (the Olm
and Megolm implementation Matrix clients use): each device uploads its Olm identity
keys and signed one-time keys; alice queries bob's keys and checks their signatures,
claims a one-time key, opens an Olm session and sends an encrypted to-device message;
bob decrypts it from his sync and answers on the same session; then alice shares a
Megolm room key over Olm and bob decrypts her encrypted room message with it
(client-server-api "End-to-End Encryption": "Messaging Algorithms", "m.room_key").
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
import pytest

from ranvier.core.b64 import decode_base64, encode_base64
from ranvier.core.canonical_json import encode_canonical_json
from tests.api.conftest import Client
from tests.api.sync_helpers import V3, sync, two_in_room

vz = pytest.importorskip("vodozemac")

OLM = "m.olm.v1.curve25519-aes-sha2"
MEGOLM = "m.megolm.v1.aes-sha2"


class Device:
    """A client device with a vodozemac Olm account."""

    def __init__(self, client: Client, token: str, user_id: str, device_id: str) -> None:
        self.client = client
        self.token = token
        self.user_id = user_id
        self.device_id = device_id
        self.account = vz.Account()
        self.since: str | None = None

    @property
    def curve25519(self) -> str:
        return str(self.account.curve25519_key.to_base64())

    @property
    def ed25519(self) -> str:
        return str(self.account.ed25519_key.to_base64())

    def signed(self, obj: dict[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
        sig = self.account.sign(encode_canonical_json(body)).to_base64()
        return {**obj, "signatures": {self.user_id: {f"ed25519:{self.device_id}": sig}}}

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        status, out = await self.client.request(method, f"{V3}{path}", body, token=self.token)
        assert status == 200, out
        return out

    async def upload(self, one_time_keys: int) -> Any:
        self.account.generate_one_time_keys(one_time_keys)
        otks = {
            f"signed_curve25519:{key_id}": self.signed({"key": key.to_base64()})
            for key_id, key in self.account.one_time_keys.items()
        }
        self.account.mark_keys_as_published()
        device_keys = self.signed(
            {
                "user_id": self.user_id,
                "device_id": self.device_id,
                "algorithms": [OLM, MEGOLM],
                "keys": {
                    f"curve25519:{self.device_id}": self.curve25519,
                    f"ed25519:{self.device_id}": self.ed25519,
                },
            }
        )
        return await self.request(
            "POST", "/keys/upload", {"device_keys": device_keys, "one_time_keys": otks}
        )

    async def to_device(self) -> tuple[list[Any], Any]:
        body = await sync(self.client, self.token, **({"since": self.since} if self.since else {}))
        self.since = body["next_batch"]
        return body["to_device"]["events"], body


def check_signed(obj: dict[str, Any], user_id: str, device_id: str, ed25519: str) -> None:
    """Raise unless ``obj`` carries a valid signature of the device."""
    body = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    sig = obj["signatures"][user_id][f"ed25519:{device_id}"]
    vz.Ed25519PublicKey.from_base64(ed25519).verify_signature(
        encode_canonical_json(body), vz.Ed25519Signature.from_base64(sig)
    )


def olm_content(sender: Device, session: Any, recipient_key: str, payload: Any) -> Any:
    message_type, ciphertext = session.encrypt(orjson.dumps(payload)).to_parts()
    return {
        "algorithm": OLM,
        "sender_key": sender.curve25519,
        "ciphertext": {recipient_key: {"type": message_type, "body": encode_base64(ciphertext)}},
    }


async def test_olm_and_megolm_through_the_server(client: Client) -> None:
    alice_id, a_tok, bob_id, b_tok, room = await two_in_room(client)
    alice = Device(client, a_tok, alice_id, (await whoami(client, a_tok)))
    bob = Device(client, b_tok, bob_id, (await whoami(client, b_tok)))
    await alice.upload(2)
    out = await bob.upload(5)
    assert out["one_time_key_counts"] == {"signed_curve25519": 5}
    await bob.to_device()
    await alice.to_device()

    # alice finds bob's device and checks its self-signature.
    q = await alice.request("POST", "/keys/query", {"device_keys": {bob_id: []}})
    dev = q["device_keys"][bob_id][bob.device_id]
    bob_ed = dev["keys"][f"ed25519:{bob.device_id}"]
    bob_curve = dev["keys"][f"curve25519:{bob.device_id}"]
    check_signed(dev, bob_id, bob.device_id, bob_ed)
    assert bob_ed == bob.ed25519

    # ... claims one of his one-time keys (signed by his device) and opens a session.
    c = await alice.request(
        "POST", "/keys/claim", {"one_time_keys": {bob_id: {bob.device_id: "signed_curve25519"}}}
    )
    (otk,) = c["one_time_keys"][bob_id][bob.device_id].values()
    check_signed(otk, bob_id, bob.device_id, bob_ed)
    outbound = alice.account.create_outbound_session(
        vz.Curve25519PublicKey.from_base64(bob_curve),
        vz.Curve25519PublicKey.from_base64(otk["key"]),
    )
    payload = {
        "type": "m.dummy",
        "content": {"hello": "bob"},
        "sender": alice_id,
        "recipient": bob_id,
        "recipient_keys": {"ed25519": bob_ed},
        "keys": {"ed25519": alice.ed25519},
    }
    content = olm_content(alice, outbound, bob_curve, payload)
    await alice.request(
        "PUT",
        "/sendToDevice/m.room.encrypted/olm1",
        {"messages": {bob_id: {bob.device_id: content}}},
    )

    # bob receives it in his sync, decrypts the pre-key message, and has one key fewer.
    events, body = await bob.to_device()
    assert body["device_one_time_keys_count"]["signed_curve25519"] == 4
    (event,) = events
    assert event["sender"] == alice_id and event["type"] == "m.room.encrypted"
    sent = event["content"]["ciphertext"][bob.curve25519]
    assert sent["type"] == 0
    inbound, plaintext = bob.account.create_inbound_session(
        vz.Curve25519PublicKey.from_base64(event["content"]["sender_key"]),
        vz.PreKeyMessage.from_base64(sent["body"]),
    )
    assert orjson.loads(plaintext) == payload

    # bob answers on the same session; alice decrypts a normal message.
    reply = {"type": "m.dummy", "content": {"hello": "alice"}, "sender": bob_id}
    await bob.request(
        "PUT",
        "/sendToDevice/m.room.encrypted/olm2",
        {
            "messages": {
                alice_id: {alice.device_id: olm_content(bob, inbound, alice.curve25519, reply)}
            }
        },
    )
    events, _ = await alice.to_device()
    (event,) = events
    got = event["content"]["ciphertext"][alice.curve25519]
    message = vz.AnyOlmMessage.from_parts(got["type"], decode_base64(got["body"]))
    assert orjson.loads(outbound.decrypt(message)) == reply

    # Megolm: alice shares a room key over Olm, then sends an encrypted room message.
    group = vz.GroupSession()
    room_key = {
        "type": "m.room_key",
        "content": {
            "algorithm": MEGOLM,
            "room_id": room,
            "session_id": group.session_id,
            "session_key": group.session_key.to_base64(),
        },
        "sender": alice_id,
        "recipient": bob_id,
        "recipient_keys": {"ed25519": bob_ed},
        "keys": {"ed25519": alice.ed25519},
    }
    await alice.request(
        "PUT",
        "/sendToDevice/m.room.encrypted/olm3",
        {"messages": {bob_id: {bob.device_id: olm_content(alice, outbound, bob_curve, room_key)}}},
    )
    plain_event = {"type": "m.room.message", "content": {"msgtype": "m.text", "body": "secret"}}
    ciphertext = group.encrypt(orjson.dumps({**plain_event, "room_id": room})).to_base64()
    await alice.request(
        "PUT",
        f"/rooms/{quote(room)}/send/m.room.encrypted/mg1",
        {
            "algorithm": MEGOLM,
            "sender_key": alice.curve25519,
            "device_id": alice.device_id,
            "session_id": group.session_id,
            "ciphertext": ciphertext,
        },
    )
    events, body = await bob.to_device()
    (event,) = events
    got = event["content"]["ciphertext"][bob.curve25519]
    message = vz.AnyOlmMessage.from_parts(got["type"], decode_base64(got["body"]))
    shared = orjson.loads(inbound.decrypt(message))
    assert shared["type"] == "m.room_key" and shared["content"]["room_id"] == room
    megolm = vz.InboundGroupSession(vz.SessionKey(shared["content"]["session_key"]))
    timeline = body["rooms"]["join"][room]["timeline"]["events"]
    (encrypted,) = [e for e in timeline if e["type"] == "m.room.encrypted"]
    assert encrypted["content"]["session_id"] == megolm.session_id
    decrypted = megolm.decrypt(vz.MegolmMessage.from_base64(encrypted["content"]["ciphertext"]))
    assert orjson.loads(decrypted.plaintext)["content"]["body"] == "secret"


async def whoami(client: Client, token: str) -> str:
    status, me = await client.request("GET", f"{V3}/account/whoami", token=token)
    assert status == 200
    return str(me["device_id"])

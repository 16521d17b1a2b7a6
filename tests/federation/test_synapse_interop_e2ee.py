"""End-to-end encryption keys between ranvier and a real Synapse on loopback: a user of
each, in a shared room, uploads signed device and one-time keys on their own server;
each queries and claims the other's keys through their own server (so ranvier asks
Synapse and Synapse asks ranvier: ``/user/devices``, ``/user/keys/query``,
``/user/keys/claim``), with the signatures checked; send-to-device messages cross both
ways; a new device of ranvier's user reaches the Synapse user's ``device_lists`` (an
``m.device_list_update`` EDU), and the other way round; cross-signing keys uploaded
on ranvier are seen by the Synapse user.

Server-server-api "End-to-End Encryption", "Device Management", "Send-to-device
messaging".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.api.e2ee_helpers import CrossSigningKeys, DeviceCrypto, verify
from tests.conftest import need_service
from tests.federation.peers import Peer, start_peer
from tests.federation.synapse_process import (
    ClientUser,
    Synapse,
    eventually,
    register,
    run_synapse,
)

V3 = "/_matrix/client/v3"


@dataclass
class E2eUser:
    """A user with one device and its keys, on one server."""

    user: ClientUser
    device: DeviceCrypto
    since: str | None = None

    async def upload(self, otks: int = 3) -> Any:
        return await self.user.call(
            "POST",
            f"{V3}/keys/upload",
            {
                "device_keys": self.device.device_keys(),
                "one_time_keys": self.device.one_time_keys(otks),
            },
        )

    async def sync(self) -> Any:
        path = f"{V3}/sync?timeout=0" + (f"&since={self.since}" if self.since else "")
        body = await self.user.call("GET", path)
        self.since = body["next_batch"]
        return body


async def _login(base: str, user: str, password: str) -> tuple[str, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            base + f"{V3}/login",
            json={
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": user},
                "password": password,
            },
            ssl=False,
        ) as resp,
    ):
        body = await resp.json()
    assert resp.status == 200, body
    return str(body["access_token"]), str(body["device_id"])


async def _whoami(user: ClientUser) -> str:
    return str((await user.call("GET", f"{V3}/account/whoami"))["device_id"])


@dataclass
class Pair:
    peer: Peer
    synapse: Synapse
    alice: E2eUser
    """On ranvier."""
    bob: E2eUser
    """On Synapse."""


@pytest.fixture
async def pair(tmp_path: Path, databases: dict[str, str | None]) -> AsyncIterator[Pair]:
    python = need_service("RANVIER_SYNAPSE_PYTHON", "Synapse")
    async with run_synapse(python, tmp_path / "synapse") as synapse:
        peer = await start_peer(tmp_path / "ranvier", database=databases["a"])
        try:
            alice_id = f"@alice:{peer.name}"
            await peer.hs.accounts.create_account(alice_id, "pw-alice")
            token, device_id = await _login(peer.base, "alice", "pw-alice")
            alice = E2eUser(
                ClientUser(peer.base, alice_id, token), DeviceCrypto(alice_id, device_id)
            )
            bob_id, bob_token = await register(synapse.base, "bob")
            bob_user = ClientUser(synapse.base, bob_id, bob_token)
            bob = E2eUser(bob_user, DeviceCrypto(bob_id, await _whoami(bob_user)))
            yield Pair(peer, synapse, alice, bob)
        finally:
            await peer.stop()


async def _query(who: E2eUser, other: E2eUser) -> Any:
    return await who.user.call(
        "POST", f"{V3}/keys/query", {"device_keys": {other.user.user_id: []}, "timeout": 10_000}
    )


async def _claim(who: E2eUser, other: E2eUser) -> Any:
    body = {
        "one_time_keys": {other.user.user_id: {other.device.device_id: "signed_curve25519"}},
        "timeout": 10_000,
    }
    return await who.user.call("POST", f"{V3}/keys/claim", body)


def _check_device(answer: Any, other: E2eUser) -> None:
    user_id, device_id = other.user.user_id, other.device.device_id
    got = answer["device_keys"][user_id][device_id]
    assert got["keys"] == other.device.device_keys()["keys"]
    assert verify(got, user_id, f"ed25519:{device_id}", other.device.ed25519_public)


async def _to_device(sender: E2eUser, recipient: E2eUser, txn: str, content: Any) -> None:
    await sender.user.call(
        "PUT",
        f"{V3}/sendToDevice/m.test/{txn}",
        {"messages": {recipient.user.user_id: {recipient.device.device_id: content}}},
    )


@pytest.mark.synapse
async def test_keys_and_to_device_between_ranvier_and_synapse(pair: Pair) -> None:
    alice, bob = pair.alice, pair.bob
    room_id = await alice.user.create_room(preset="public_chat", name="keys")
    await bob.user.join(room_id, pair.peer.name)
    await alice.sync()
    await bob.sync()
    assert (await alice.upload())["one_time_key_counts"] == {"signed_curve25519": 3}
    assert (await bob.upload())["one_time_key_counts"]["signed_curve25519"] == 3

    # Each learns of the other's keys through device_lists, then queries and claims.
    async def changed(who: E2eUser, other: E2eUser) -> bool:
        return other.user.user_id in (await who.sync())["device_lists"]["changed"]

    await eventually(lambda: changed(alice, bob), "alice's sync names bob in changed")
    await eventually(lambda: changed(bob, alice), "bob's sync names alice in changed")

    async def has_device(who: E2eUser, other: E2eUser) -> bool:
        answer = await _query(who, other)
        found = answer["device_keys"].get(other.user.user_id, {})
        return other.device.device_id in found and not answer["failures"]

    await eventually(lambda: has_device(alice, bob), "ranvier answers with bob's keys")
    _check_device(await _query(alice, bob), bob)
    await eventually(lambda: has_device(bob, alice), "Synapse answers with alice's keys")
    _check_device(await _query(bob, alice), alice)

    for who, other in ((alice, bob), (bob, alice)):
        answer = await _claim(who, other)
        assert answer["failures"] == {}, answer
        (key,) = answer["one_time_keys"][other.user.user_id][other.device.device_id].values()
        user_id, device_id = other.user.user_id, other.device.device_id
        assert verify(key, user_id, f"ed25519:{device_id}", other.device.ed25519_public)
    assert (await alice.user.call("POST", f"{V3}/keys/upload", {}))["one_time_key_counts"] == {
        "signed_curve25519": 2
    }

    # Send-to-device both ways.
    await _to_device(alice, bob, "a1", {"from": "ranvier"})
    await _to_device(bob, alice, "b1", {"from": "synapse"})

    async def received(who: E2eUser, content: Any) -> bool:
        events = (await who.sync())["to_device"]["events"]
        return any(e["content"] == content and e["type"] == "m.test" for e in events)

    await eventually(lambda: received(bob, {"from": "ranvier"}), "bob's to-device message")
    await eventually(lambda: received(alice, {"from": "synapse"}), "alice's to-device message")

    # A new device of alice reaches bob's device list, and Synapse's answer.
    token, second_id = await _login(pair.peer.base, "alice", "pw-alice")
    second = E2eUser(
        ClientUser(pair.peer.base, alice.user.user_id, token),
        DeviceCrypto(alice.user.user_id, second_id),
    )
    await second.upload(1)

    async def bob_sees_second() -> bool:
        answer = await _query(bob, alice)
        return second_id in answer["device_keys"].get(alice.user.user_id, {})

    await eventually(lambda: changed(bob, alice), "bob's sync names alice again")
    await eventually(bob_sees_second, "Synapse knows alice's second device")

    # ... and a new device of bob reaches alice's (Synapse's update, ranvier's copy).
    token, bob_second_id = await _login(pair.synapse.base, "bob", "pw-12345")
    bob_second = E2eUser(
        ClientUser(pair.synapse.base, bob.user.user_id, token),
        DeviceCrypto(bob.user.user_id, bob_second_id),
    )
    await bob_second.upload(1)

    async def alice_sees_bob_second() -> bool:
        answer = await _query(alice, bob)
        return bob_second_id in answer["device_keys"].get(bob.user.user_id, {})

    await eventually(lambda: changed(alice, bob), "alice's sync names bob again")
    await eventually(alice_sees_bob_second, "ranvier knows bob's second device")

    # Cross-signing keys uploaded on ranvier are seen through Synapse.
    cross = CrossSigningKeys(alice.user.user_id)
    await alice.user.call("POST", f"{V3}/keys/device_signing/upload", cross.upload_body())

    async def bob_sees_master() -> bool:
        answer = await _query(bob, alice)
        master = answer.get("master_keys", {}).get(alice.user.user_id)
        return master is not None and master["keys"] == cross.key("master")["keys"]

    await eventually(bob_sees_master, "Synapse knows alice's master key")

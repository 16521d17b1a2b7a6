"""An encrypted conversation between two real clients: matrix-nio with its end-to-end
encryption (vodozemac) against ranvier. Each client uploads its keys, tracks the
other's device list through ``/sync``, queries and claims keys, shares a Megolm session
over Olm to-device messages and sends encrypted room messages; the other decrypts
them. Runs on SQLite and PostgreSQL.

Spec: client-server-api "End-to-End Encryption" (the whole client flow: "Uploading
keys", "Tracking the device list for a user", "Claiming one-time keys", "Messaging
Algorithms"), "Send-to-Device messaging".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.api.test_directory_fixtures import Hs, hs  # noqa: F401

nio = pytest.importorskip("nio")
if not nio.crypto.ENCRYPTION_ENABLED:  # pragma: no cover - the test extra installs it
    pytest.skip("matrix-nio without its e2e extra", allow_module_level=True)

ENCRYPTION = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


async def step(client: Any) -> Any:
    """One sync and what a client does after it: upload, query, claim keys."""
    response = await client.sync(timeout=0, full_state=client.next_batch is None)
    assert isinstance(response, nio.SyncResponse), response
    if client.should_upload_keys:
        assert isinstance(await client.keys_upload(), nio.KeysUploadResponse)
    if client.should_query_keys:
        assert isinstance(await client.keys_query(), nio.KeysQueryResponse)
    if client.should_claim_keys:
        users = client.get_users_for_key_claiming()
        assert isinstance(await client.keys_claim(users), nio.KeysClaimResponse)
    return response


def texts(response: Any, room_id: str) -> list[str]:
    """Bodies of the decrypted text messages of a room in a sync response."""
    room = response.rooms.join.get(room_id)
    if room is None:
        return []
    return [
        e.body
        for e in room.timeline.events
        if isinstance(e, nio.RoomMessageText) and getattr(e, "decrypted", False)
    ]


async def test_encrypted_conversation_between_nio_clients(hs: Hs, tmp_path: Path) -> None:  # noqa: F811
    config = nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
    stores = [tmp_path / "alice", tmp_path / "bob"]
    for store in stores:
        store.mkdir()
    alice = nio.AsyncClient(hs.base, "alice", store_path=str(stores[0]), config=config)
    bob = nio.AsyncClient(hs.base, "bob", store_path=str(stores[1]), config=config)
    try:
        assert isinstance(await alice.register("alice", "pw-alice"), nio.RegisterResponse)
        assert isinstance(await bob.register("bob", "pw-bob"), nio.RegisterResponse)
        await step(alice)
        await step(bob)
        assert not alice.should_upload_keys and not bob.should_upload_keys

        created = await alice.room_create(
            name="secret", invite=[bob.user_id], initial_state=[ENCRYPTION]
        )
        assert isinstance(created, nio.RoomCreateResponse), created
        room_id = created.room_id
        await step(bob)
        assert isinstance(await bob.join(room_id), nio.JoinResponse)
        await step(bob)
        await step(alice)
        # Each knows the other's device from /keys/query after device_lists told them.
        assert bob.device_id in alice.device_store[bob.user_id]
        assert alice.device_id in bob.device_store[alice.user_id]

        sent = await alice.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": "hello bob, in secret"},
            ignore_unverified_devices=True,
        )
        assert isinstance(sent, nio.RoomSendResponse), sent
        got = texts(await step(bob), room_id)
        assert got == ["hello bob, in secret"]

        sent = await bob.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": "hello alice"},
            ignore_unverified_devices=True,
        )
        assert isinstance(sent, nio.RoomSendResponse), sent
        got = texts(await step(alice), room_id)
        assert got == ["hello bob, in secret", "hello alice"]  # her own, decrypted too

        # The event as stored on the server is encrypted.
        status, raw = await hs.request(
            "GET",
            f"/_matrix/client/v3/rooms/{room_id}/event/{sent.event_id}",
            token=alice.access_token,
        )
        assert status == 200 and raw["type"] == "m.room.encrypted", raw
        assert "hello" not in str(raw["content"])
    finally:
        await alice.close()
        await bob.close()

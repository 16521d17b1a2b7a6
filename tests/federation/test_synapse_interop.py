"""Interop with a real Synapse on loopback: ranvier fetches Synapse's keys and makes
an X-Matrix signed ``/query/profile`` request that Synapse verifies (by fetching
ranvier's keys back), and Synapse's signed requests pass ranvier's authenticator.

Synapse runs from its own virtualenv (``RANVIER_SYNAPSE_PYTHON``), named
``127.0.0.1:<port>`` with a TLS federation listener, certificate checks off and
loopback allowed (test-only settings on both sides).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from ranvier.federation.client import RemoteError
from tests.conftest import need_service
from tests.federation.peers import Peer, start_peer
from tests.federation.synapse_process import Synapse, register, run_synapse


@pytest.fixture
async def synapse(tmp_path: Path) -> AsyncIterator[Synapse]:
    python = need_service("RANVIER_SYNAPSE_PYTHON", "Synapse")
    async with run_synapse(python, tmp_path / "synapse") as server:
        yield server


async def _register(server: Synapse, username: str) -> tuple[str, str]:
    return await register(server.base, username)


@pytest.mark.synapse
async def test_ranvier_and_synapse_authenticate_each_other(
    tmp_path: Path, synapse: Synapse, databases: dict[str, str | None]
) -> None:
    peer: Peer = await start_peer(tmp_path / "ranvier", database=databases["a"])
    try:
        fed = peer.hs.federation
        # ranvier fetches and checks Synapse's self-signed keys
        async with (
            aiohttp.ClientSession() as session,
            session.get(synapse.base + "/_matrix/key/v2/server", ssl=False) as resp,
        ):
            published = await resp.json()
        key_id = next(iter(published["verify_keys"]))
        key = await fed.keyring.get_key(synapse.name, key_id)
        assert key is not None and key.from_server == synapse.name

        # a signed request Synapse verifies (it fetches ranvier's keys to do so)
        user_id, token = await _register(synapse, "bob")
        profile = await fed.client.get_json(
            synapse.name,
            "/_matrix/federation/v1/query/profile",
            {"user_id": user_id, "field": "displayname"},
        )
        assert profile == {"displayname": "bob"}
        # Synapse refuses a request signed for another destination
        client = fed.client
        real = client.server_name
        try:
            client.server_name = "impostor.example"
            with pytest.raises(RemoteError) as err:
                await client.get_json(
                    synapse.name, "/_matrix/federation/v1/query/profile", {"user_id": user_id}
                )
            assert err.value.status == 401
        finally:
            client.server_name = real

        # ranvier as a notary for Synapse's keys, co-signed
        notary = await fed.keyring.notary_answer(synapse.name, {key_id: None})
        assert notary and notary[0]["signatures"].keys() == {synapse.name, peer.name}

        # Synapse asks ranvier for a profile: its X-Matrix request passes ranvier's
        # authenticator (which fetched Synapse's key to check it)
        await peer.hs.accounts.create_account(f"@alice:{peer.name}", "pw")
        before = fed.keyring.fetches
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{synapse.base}/_matrix/client/v3/profile/@alice:{peer.name}",
                headers={"Authorization": f"Bearer {token}"},
                ssl=False,
            ) as resp,
        ):
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["displayname"] == "alice"
        assert fed.keyring.fetches == before  # Synapse's key was already known

        # Synapse fetches ranvier's keys through its own notary endpoint (a real
        # direct fetch by Synapse), and ranvier's answer is what it published
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{synapse.base}/_matrix/key/v2/query/{peer.name}", ssl=False) as resp,
        ):
            seen = await resp.json()
        entry = seen["server_keys"][0]
        assert entry["verify_keys"] == {peer.key.key_id: {"key": peer.key.verify_key_base64}}
    finally:
        await peer.stop()

"""Interop with a real Synapse on loopback: ranvier fetches Synapse's keys and makes
an X-Matrix signed ``/query/profile`` request that Synapse verifies (by fetching
ranvier's keys back), and Synapse's signed requests pass ranvier's authenticator.

Synapse runs from its own virtualenv (``RANVIER_SYNAPSE_PYTHON``), named
``127.0.0.1:<port>`` with a TLS federation listener, certificate checks off and
loopback allowed (test-only settings on both sides).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from ranvier.federation.client import RemoteError
from ranvier.http.tls import make_self_signed
from tests.conftest import need_service
from tests.federation.peers import Peer, free_port, start_peer

START_TIMEOUT_S = 90.0


class Synapse:
    def __init__(self, process: asyncio.subprocess.Process, port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.name = f"127.0.0.1:{port}"
        self.base = f"https://127.0.0.1:{port}"
        self.log = log


async def _run(*argv: str, cwd: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, out.decode(errors="replace")


@pytest.fixture
async def synapse(tmp_path: Path) -> AsyncIterator[Synapse]:
    python = need_service("RANVIER_SYNAPSE_PYTHON", "Synapse")
    work = tmp_path / "synapse"
    work.mkdir()
    port = free_port()
    cfg_path = work / "homeserver.yaml"
    await _run(
        python,
        "-m",
        "synapse.app.homeserver",
        "--server-name",
        f"127.0.0.1:{port}",
        "--config-path",
        str(cfg_path),
        "--generate-config",
        "--report-stats=no",
        "--data-directory",
        str(work),
        cwd=work,
    )
    cert, key = work / "tls.crt", work / "tls.key"
    make_self_signed(cert, key, ("127.0.0.1",))
    cfg: dict[str, Any] = yaml.safe_load(cfg_path.read_text())
    cfg["listeners"] = [
        {
            "port": port,
            "bind_addresses": ["127.0.0.1"],
            "type": "http",
            "tls": True,
            "x_forwarded": False,
            "resources": [{"names": ["client", "federation", "keys"], "compress": False}],
        }
    ]
    cfg.update(
        tls_certificate_path=str(cert),
        tls_private_key_path=str(key),
        federation_verify_certificates=False,
        federation_ip_range_blacklist=[],
        ip_range_whitelist=["127.0.0.1"],
        trusted_key_servers=[],
        suppress_key_server_warning=True,
        enable_registration=True,
        enable_registration_without_verification=True,
        bcrypt_rounds=4,
        report_stats=False,
    )
    cfg_path.write_text(yaml.safe_dump(cfg))
    log = work / "stdout.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            python,
            "-m",
            "synapse.app.homeserver",
            "--config-path",
            str(cfg_path),
            cwd=work,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    server = Synapse(process, port, log)
    try:
        await _wait_ready(server)
        yield server
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                os.killpg(process.pid, signal.SIGKILL)
                await process.wait()


async def _wait_ready(server: Synapse) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT_S
    async with aiohttp.ClientSession() as session:
        while loop.time() < deadline:
            if server.process.returncode is not None:
                break
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(server.base + "/_matrix/key/v2/server", ssl=False) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.3)
    tail = server.log.read_text(errors="replace")[-3000:]
    raise AssertionError(f"Synapse did not start:\n{tail}")


async def _register(server: Synapse, username: str) -> tuple[str, str]:
    url = server.base + "/_matrix/client/v3/register"
    body: dict[str, Any] = {"username": username, "password": "pw-12345"}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=body, ssl=False) as resp:
            first = await resp.json()
        body["auth"] = {"type": "m.login.dummy", "session": first["session"]}
        async with session.post(url, json=body, ssl=False) as resp:
            done = await resp.json()
            assert resp.status == 200, done
    return str(done["user_id"]), str(done["access_token"])


@pytest.mark.synapse
async def test_ranvier_and_synapse_authenticate_each_other(
    tmp_path: Path, synapse: Synapse
) -> None:
    peer: Peer = await start_peer(tmp_path / "ranvier")
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
        notary = await fed.keyring.notary_answer(synapse.name, [key_id], None)
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

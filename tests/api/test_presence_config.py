"""The presence switches from a config file: ``global.presence.enabled: false`` turns
presence off over HTTP; the federation flags load and leave local presence working."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import aiohttp

from ranvier.config.loader import parse_config_text
from ranvier.server import Homeserver
from tests.api.conftest import Client
from tests.api.sync_helpers import V3, create_room, register, sync

CONFIG = """
version: 2
global:
  server_name: test.local
  database:
    connection_string: file:{db}
  presence:
    enable_inbound: true
    enable_outbound: false
    enabled: {enabled}
client_api:
  registration_disabled: false
  registration_shared_secret: s
  rate_limiting:
    enabled: false
user_api:
  bcrypt_cost: 4
"""


async def serve(tmp_path: Path, enabled: str) -> tuple[Homeserver, Client]:
    text = CONFIG.format(db=tmp_path / f"hs-{enabled}.sqlite", enabled=enabled)
    config = parse_config_text(text, tmp_path)
    assert config.global_.presence.enabled is (enabled == "true")
    assert config.global_.presence.enable_inbound
    server = await Homeserver.open(config)
    port = (await server.start(("127.0.0.1", 0)))[0][1]
    return server, Client(aiohttp.ClientSession(), f"http://127.0.0.1:{port}", server)


async def test_presence_off(tmp_path: Path) -> None:
    server, client = await serve(tmp_path, "false")
    try:
        alice, a_tok = await register(client, "alice")
        await create_room(client, a_tok)  # activity, ignored
        path = f"{V3}/presence/{quote(alice)}/status"
        body = {"presence": "online", "status_msg": "x"}
        assert await client.request("PUT", path, body, token=a_tok) == (200, {})
        assert await client.request("GET", path, token=a_tok) == (200, {"presence": "offline"})
        assert (await sync(client, a_tok))["presence"] == {"events": []}
        assert await server.presence.current_position() == 0
    finally:
        await client.session.close()
        await server.stop(1.0)


async def test_presence_on_with_federation_flags(tmp_path: Path) -> None:
    server, client = await serve(tmp_path, "true")
    try:
        assert server.presence.inbound and not server.presence.outbound
        alice, a_tok = await register(client, "alice")
        path = f"{V3}/presence/{quote(alice)}/status"
        assert (await client.request("PUT", path, {"presence": "online"}, token=a_tok))[0] == 200
        assert (await client.request("GET", path, token=a_tok))[1]["presence"] == "online"
    finally:
        await client.session.close()
        await server.stop(1.0)

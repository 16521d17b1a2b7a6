"""Device list tracking over real HTTP: new keys, new, renamed and deleted devices show
in ``device_lists.changed`` of the users sharing a room (and the user themself), a
user who no longer shares a room in ``left``; ``/keys/changes`` between two tokens; a
long-polling sync wakes on a change."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.conftest import Client
from tests.api.e2ee_helpers import DeviceCrypto
from tests.api.sync_helpers import V3, leave, register, sync, two_in_room


async def upload_keys(client: Client, token: str, dev: DeviceCrypto | None = None) -> DeviceCrypto:
    if dev is None:
        status, me = await client.request("GET", f"{V3}/account/whoami", token=token)
        assert status == 200
        dev = DeviceCrypto(me["user_id"], me["device_id"])
    status, out = await client.request(
        "POST", f"{V3}/keys/upload", {"device_keys": dev.device_keys()}, token=token
    )
    assert status == 200, out
    return dev


async def login(client: Client, user: str, device_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user},
        "password": "pw",
    }
    if device_id:
        body["device_id"] = device_id
    status, out = await client.request("POST", f"{V3}/login", body)
    assert status == 200, out
    return dict(out)


async def changed_since(client: Client, token: str, since: str) -> tuple[Any, str]:
    body = await sync(client, token, since=since)
    return body["device_lists"], str(body["next_batch"])


async def test_changes_reach_room_members_and_self(client: Client) -> None:
    alice, a_tok, bob, b_tok, room = await two_in_room(client)
    carol, c_tok = await register(client, "carol")  # shares no room
    a_next = (await sync(client, a_tok))["next_batch"]
    b_next = (await sync(client, b_tok))["next_batch"]
    c_next = (await sync(client, c_tok))["next_batch"]

    # New device keys.
    b_dev = await upload_keys(client, b_tok)
    lists, a_next = await changed_since(client, a_tok, a_next)
    assert lists == {"changed": [bob], "left": []}
    lists, b_next = await changed_since(client, b_tok, b_next)
    assert lists["changed"] == [bob]
    lists, c_next = await changed_since(client, c_tok, c_next)
    assert lists == {"changed": [], "left": []}
    # The same keys again change nothing.
    await upload_keys(client, b_tok, b_dev)
    body = await sync(client, a_tok, since=a_next, timeout=0)
    assert body["device_lists"]["changed"] == []

    # A new device (login), a rename, a deletion.
    session = await login(client, "bob")
    lists, a_next = await changed_since(client, a_tok, a_next)
    assert lists["changed"] == [bob]
    status, _ = await client.request(
        "PUT", f"{V3}/devices/{session['device_id']}", {"display_name": "Tablet"}, token=b_tok
    )
    assert status == 200
    lists, a_next = await changed_since(client, a_tok, a_next)
    assert lists["changed"] == [bob]
    status, _ = await client.request("POST", f"{V3}/logout", {}, token=session["access_token"])
    assert status == 200
    lists, a_next = await changed_since(client, a_tok, a_next)
    assert lists["changed"] == [bob]

    # /keys/changes over the whole range.
    first = (await sync(client, c_tok))["next_batch"]
    status, ch = await client.request(
        "GET", f"{V3}/keys/changes?from=s0_0_0_0_0_0_0&to={a_next}", token=a_tok
    )
    assert status == 200 and bob in ch["changed"], ch
    status, ch = await client.request(
        "GET", f"{V3}/keys/changes?from={a_next}&to={a_next}", token=a_tok
    )
    assert ch == {"changed": [], "left": []}
    assert first

    # bob leaves: alice sees him in "left", and his changes no longer.
    await leave(client, b_tok, room)
    lists, a_next = await changed_since(client, a_tok, a_next)
    assert lists == {"changed": [], "left": [bob]}
    await login(client, "bob")
    body = await sync(client, a_tok, since=a_next, timeout=0)
    assert body["device_lists"] == {"changed": [], "left": []}
    # bob joins again: alice sees him changed (she must fetch his keys again).
    status, _ = await client.request("POST", f"{V3}/rooms/{room}/join", {}, token=b_tok)
    assert status == 200
    lists, a_next = await changed_since(client, a_tok, a_next)
    assert lists == {"changed": [bob], "left": []}
    assert alice and carol


async def test_user_who_leaves_sees_others_left(client: Client) -> None:
    alice, _, _, b_tok, room = await two_in_room(client)
    b_next = (await sync(client, b_tok))["next_batch"]
    await leave(client, b_tok, room)
    lists, b_next = await changed_since(client, b_tok, b_next)
    assert lists["left"] == [alice]
    status, ch = await client.request(
        "GET", f"{V3}/keys/changes?from=s0_0_0_0_0_0_0&to={b_next}", token=b_tok
    )
    assert status == 200 and alice in ch["left"]


async def test_long_poll_wakes_on_device_change(client: Client) -> None:
    _, a_tok, bob, b_tok, _ = await two_in_room(client)
    a_next = (await sync(client, a_tok))["next_batch"]
    waiting = asyncio.create_task(sync(client, a_tok, since=a_next, timeout=10_000))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await upload_keys(client, b_tok)
    body = await asyncio.wait_for(waiting, 5)
    assert loop.time() - started < 3
    assert body["device_lists"]["changed"] == [bob]


async def test_invited_user_is_changed(client: Client) -> None:
    _, a_tok, _, _, room = await two_in_room(client)
    carol, _ = await register(client, "carol")
    a_next = (await sync(client, a_tok))["next_batch"]
    status, out = await client.request(
        "POST", f"{V3}/rooms/{room}/invite", {"user_id": carol}, token=a_tok
    )
    assert status == 200, out
    lists, _ = await changed_since(client, a_tok, a_next)
    assert lists == {"changed": [carol], "left": []}

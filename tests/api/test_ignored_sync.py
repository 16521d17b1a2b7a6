"""Ignoring users over real HTTP: their messages leave ``/sync`` and ``/messages`` at once,
their state events stay, their invites are not shown."""

from __future__ import annotations

from tests.api.conftest import Client
from tests.api.sync_helpers import (
    V3,
    create_room,
    invite,
    join,
    messages,
    register,
    send,
    sync,
    timeline_bodies,
)


async def test_ignored_users_are_hidden(client: Client) -> None:
    alice, a_tok = await register(client, "alice")
    bob, b_tok = await register(client, "bob")
    room = await create_room(client, a_tok, preset="public_chat")
    await join(client, b_tok, room)
    status, _ = await client.request(
        "PUT",
        f"{V3}/user/{alice}/account_data/m.ignored_user_list",
        {"ignored_users": {bob: {}}},
        token=a_tok,
    )
    assert status == 200
    await send(client, b_tok, room, "from bob")
    await send(client, a_tok, room, "from alice")
    body = await sync(client, a_tok)
    r = body["rooms"]["join"][room]
    assert timeline_bodies(r) == ["from alice"]
    senders_of_state = {
        e["sender"] for e in r["timeline"]["events"] + r["state"]["events"] if "state_key" in e
    }
    assert bob in senders_of_state  # his state events (his join) are still sent
    page = await messages(client, a_tok, room, dir="b")
    assert "from bob" not in [e["content"].get("body") for e in page["chunk"]]
    # Invites from an ignored user are not shown.
    other = await create_room(client, b_tok)
    await invite(client, b_tok, other, alice)
    assert other not in (await sync(client, a_tok))["rooms"]["invite"]
    # Un-ignoring applies at once.
    status, _ = await client.request(
        "PUT",
        f"{V3}/user/{alice}/account_data/m.ignored_user_list",
        {"ignored_users": {}},
        token=a_tok,
    )
    assert other in (await sync(client, a_tok))["rooms"]["invite"]

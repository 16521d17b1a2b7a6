"""Helpers shared by the /sync and /messages API tests."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import orjson

from tests.api.conftest import Client

V3 = "/_matrix/client/v3"


async def register(client: Client, name: str) -> tuple[str, str]:
    """Register ``name``; return ``(user_id, access_token)``."""
    body = await client.register(name)
    return str(body["user_id"]), str(body["access_token"])


async def create_room(client: Client, token: str, **body: Any) -> str:
    """``POST /createRoom``; return the room id."""
    status, created = await client.request("POST", f"{V3}/createRoom", body, token=token)
    assert status == 200, created
    return str(created["room_id"])


async def send(client: Client, token: str, room_id: str, text: str, txn: str | None = None) -> str:
    """Send an ``m.text`` message; return its event id."""
    txn = txn or f"t{text}"
    status, body = await client.request(
        "PUT",
        f"{V3}/rooms/{quote(room_id)}/send/m.room.message/{quote(txn)}",
        {"msgtype": "m.text", "body": text},
        token=token,
    )
    assert status == 200, body
    return str(body["event_id"])


async def join(client: Client, token: str, room_id: str) -> None:
    """Join ``room_id``."""
    status, body = await client.request(
        "POST", f"{V3}/rooms/{quote(room_id)}/join", {}, token=token
    )
    assert status == 200, body


async def invite(client: Client, token: str, room_id: str, user_id: str) -> None:
    """Invite ``user_id`` to ``room_id``."""
    status, body = await client.request(
        "POST", f"{V3}/rooms/{quote(room_id)}/invite", {"user_id": user_id}, token=token
    )
    assert status == 200, body


async def leave(client: Client, token: str, room_id: str) -> None:
    """Leave ``room_id``."""
    status, body = await client.request(
        "POST", f"{V3}/rooms/{quote(room_id)}/leave", {}, token=token
    )
    assert status == 200, body


async def two_in_room(client: Client) -> tuple[str, str, str, str, str]:
    """alice creates a public room and bob joins it:
    ``(alice, alice's token, bob, bob's token, room id)``."""
    alice, a_tok = await register(client, "alice")
    bob, b_tok = await register(client, "bob")
    room = await create_room(client, a_tok, preset="public_chat")
    await join(client, b_tok, room)
    return alice, a_tok, bob, b_tok, room


async def set_ignored(client: Client, token: str, user_id: str, ignored: list[str]) -> None:
    """Set ``user_id``'s ``m.ignored_user_list`` to ``ignored``."""
    status, body = await client.request(
        "PUT",
        f"{V3}/user/{quote(user_id)}/account_data/m.ignored_user_list",
        {"ignored_users": {u: {} for u in ignored}},
        token=token,
    )
    assert status == 200, body


async def sync(client: Client, token: str, expect: int = 200, **params: Any) -> Any:
    """``GET /sync`` with ``params`` (dicts become inline JSON filters)."""
    query: dict[str, str] = {}
    for key, value in params.items():
        if isinstance(value, dict):
            query[key] = orjson.dumps(value).decode()
        elif isinstance(value, bool):
            query[key] = "true" if value else "false"
        else:
            query[key] = str(value)
    path = f"{V3}/sync" + (f"?{urlencode(query)}" if query else "")
    status, body = await client.request("GET", path, token=token)
    assert status == expect, body
    return body


async def messages(
    client: Client, token: str, room_id: str, expect: int = 200, **params: Any
) -> Any:
    """``GET /rooms/{roomId}/messages``."""
    query = {
        k: orjson.dumps(v).decode() if isinstance(v, dict) else str(v) for k, v in params.items()
    }
    path = f"{V3}/rooms/{quote(room_id)}/messages?{urlencode(query)}"
    status, body = await client.request("GET", path, token=token)
    assert status == expect, body
    return body


def timeline_bodies(room: dict[str, Any]) -> list[str]:
    """The ``body`` of each message in a joined room's timeline, in order."""
    return [
        e["content"]["body"] for e in room["timeline"]["events"] if e["type"] == "m.room.message"
    ]


def ephemeral(body: Any, room_id: str) -> list[Any]:
    """The ephemeral events of a joined room in a sync response (none if absent)."""
    room = body["rooms"]["join"].get(room_id)
    return [] if room is None else list(room["ephemeral"]["events"])

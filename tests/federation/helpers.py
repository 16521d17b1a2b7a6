"""Helpers shared by the tests that run several ranvier peers (:mod:`tests.federation.peers`):
waiting for a condition, rooms shared across peers, what a peer has stored, PDUs crafted
by one peer and sent straight to another's ``/send``, and client API calls."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from ranvier.core.builder import build_event, select_auth_events
from ranvier.core.events import Event
from ranvier.core.signing import SigningKey
from ranvier.rooms.event_store import StoredEvent
from tests.federation.peers import Peer, start_peer


async def start_two(
    tmp_path: Path, peers: list[Peer], databases: Mapping[str, str | None] | None = None
) -> tuple[Peer, Peer]:
    """Start peers ``a`` and ``b`` under ``tmp_path`` (on ``databases`` when given, see
    the ``databases`` fixture) and add them to ``peers``."""
    dbs = databases or {}
    a = await start_peer(tmp_path / "a", database=dbs.get("a"))
    b = await start_peer(tmp_path / "b", database=dbs.get("b"))
    peers += [a, b]
    return a, b


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    """Poll ``check`` until it is true; fail after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def stored(peer: Peer, event_id: str) -> StoredEvent | None:
    """The event as ``peer`` stored it, or None."""
    return await peer.hs.room_storage.events.get_by_id(event_id)


async def has_event(peer: Peer, event_id: str) -> bool:
    """Whether ``peer`` holds the event, neither rejected nor soft-failed."""
    found = await stored(peer, event_id)
    return found is not None and not found.rejected and not found.soft_failed


async def shared_room(a: Peer, b: Peer, room_version: str = "10") -> tuple[str, str, str]:
    """alice@A creates a public room, bob@B joins it over federation."""
    alice, bob = f"@alice:{a.name}", f"@bob:{b.name}"
    await a.hs.accounts.create_account(alice, "pw")
    await b.hs.accounts.create_account(bob, "pw")
    room_id = await a.hs.rooms.create_room(
        alice, preset="public_chat", room_version=room_version, name="Shared"
    )
    await b.hs.membership.join(room_id, bob, servers=[a.name])
    return room_id, alice, bob


async def room_state(peer: Peer, room_id: str) -> dict[tuple[str, str], Event]:
    """The current state of the room at ``peer``."""
    storage = peer.hs.room_storage
    room = await storage.events.get_room(room_id)
    assert room is not None
    return await storage.state_events(await storage.current_state(room.nid))


async def membership(peer: Peer, room_id: str, user_id: str) -> str | None:
    """``user_id``'s membership of the room at ``peer`` (None if none or unknown room)."""
    room = await peer.hs.room_storage.events.get_room(room_id)
    if room is None:
        return None
    return await peer.hs.room_storage.events.membership_of(room.nid, user_id)


async def membership_is(peer: Peer, room_id: str, user_id: str, expected: str) -> bool:
    """Whether :func:`membership` is ``expected``."""
    return await membership(peer, room_id, user_id) == expected


async def craft(
    a: Peer,
    b: Peer,
    room_id: str,
    sender: str,
    event_type: str,
    content: dict[str, Any],
    *,
    state_key: str | None = None,
    prev: list[Event] | None = None,
    key: SigningKey | None = None,
) -> Event:
    """An event by ``sender`` (a user of B), signed by B, built on A's current DAG."""
    storage = a.hs.room_storage
    room = await storage.events.get_room(room_id)
    assert room is not None
    state = await room_state(a, room_id)
    if prev is None:
        ext = await storage.events.forward_extremities(room.nid)
        prev = [s.event for s in (await storage.events.get_by_nids(ext)).values()]
    auth = select_auth_events(room.room_version, event_type, state_key, sender, content, state)
    return build_event(
        room_version=room.room_version,
        room_id=room_id,
        sender=sender,
        event_type=event_type,
        content=content,
        state_key=state_key,
        prev_events=prev,
        auth_events=auth,
        origin=b.name,
        signing_key=key or b.key,
    )


async def send_txn(b: Peer, a: Peer, txn_id: str, pdus: list[Any], **extra: Any) -> Any:
    """``PUT /send/{txn_id}`` from B to A with ``pdus`` (and ``extra`` body keys)."""
    body = {"origin": b.name, "origin_server_ts": 1, "pdus": pdus, **extra}
    return await b.hs.federation.client.put_json(
        a.name, f"/_matrix/federation/v1/send/{txn_id}", body
    )


async def call(
    peer: Peer, method: str, path: str, token: str | None = None, body: Any = None
) -> tuple[int, Any]:
    """A client API request to ``peer``: ``(status, JSON body)``."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, peer.base + path, json=body, headers=headers, ssl=False) as resp,
    ):
        return resp.status, await resp.json(content_type=None)


async def login(peer: Peer, localpart: str) -> str:
    """Create ``@localpart`` on ``peer`` (password ``pw``), log in; the access token."""
    await peer.hs.accounts.create_account(f"@{localpart}:{peer.name}", "pw")
    status, body = await call(
        peer,
        "POST",
        "/_matrix/client/v3/login",
        body={
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": localpart},
            "password": "pw",
        },
    )
    assert status == 200, body
    return str(body["access_token"])

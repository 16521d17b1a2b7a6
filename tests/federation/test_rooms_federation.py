"""Two real ranvier servers on loopback HTTPS sharing rooms: joins over federation
(make_join/send_join v2), messages both ways through ``PUT /send``, the served room
data endpoints, and the outbound queue surviving restarts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from ranvier.rooms.event_store import StoredEvent
from tests.federation.peers import Peer, start_peer


@pytest.fixture
async def peers() -> AsyncIterator[list[Peer]]:
    started: list[Peer] = []
    yield started
    for peer in started:
        await peer.stop()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def stored(peer: Peer, event_id: str) -> StoredEvent | None:
    return await peer.hs.room_storage.events.get_by_id(event_id)


async def has_event(peer: Peer, event_id: str) -> bool:
    found = await stored(peer, event_id)
    return found is not None and not found.rejected and not found.soft_failed


async def shared_room(
    a: Peer, b: Peer, room_version: str = "10"
) -> tuple[str, str, str]:
    """alice@A creates a public room, bob@B joins it over federation."""
    alice, bob = f"@alice:{a.name}", f"@bob:{b.name}"
    await a.hs.accounts.create_account(alice, "pw")
    await b.hs.accounts.create_account(bob, "pw")
    room_id = await a.hs.rooms.create_room(
        alice, preset="public_chat", room_version=room_version, name="Shared"
    )
    await b.hs.membership.join(room_id, bob, servers=[a.name])
    return room_id, alice, bob


async def test_join_and_messages_both_ways(tmp_path: Path, peers: list[Peer]) -> None:
    a = await start_peer(tmp_path / "a")
    b = await start_peer(tmp_path / "b")
    peers += [a, b]
    room_id, alice, bob = await shared_room(a, b)
    # B holds the room with A's state; both see bob joined.
    assert await b.hs.rooms.joined_rooms(bob) == [room_id]
    members = await a.hs.rooms.joined_members(room_id, alice)
    assert set(members) == {alice, bob}
    assert set(await b.hs.rooms.joined_members(room_id, bob)) == {alice, bob}
    state_b = {(e["type"], e["state_key"]) for e in await b.hs.rooms.get_state(room_id, bob)}
    assert ("m.room.name", "") in state_b and ("m.room.power_levels", "") in state_b

    to_b = await a.hs.rooms.send_event(room_id, alice, "m.room.message", {"body": "hi bob"})
    await eventually(lambda: has_event(b, to_b))
    got = await b.hs.rooms.get_event(room_id, to_b, bob)
    assert got["content"] == {"body": "hi bob"} and got["sender"] == alice

    to_a = await b.hs.rooms.send_event(room_id, bob, "m.room.message", {"body": "hi alice"})
    await eventually(lambda: has_event(a, to_a))
    got = await a.hs.rooms.get_event(room_id, to_a, alice)
    assert got["content"] == {"body": "hi alice"} and got["sender"] == bob

    # State changes flow too, and both servers agree on the current state.
    await a.hs.rooms.set_state(room_id, alice, "m.room.name", "", {"name": "Renamed"})
    await eventually(
        lambda: _name_is(b, room_id, bob, "Renamed"),
    )


async def _name_is(peer: Peer, room_id: str, user: str, name: str) -> bool:
    try:
        content = await peer.hs.rooms.get_state_content(room_id, user, "m.room.name", "")
    except Exception:
        return False
    return content.get("name") == name

"""Rooms shared between ranvier and a real Synapse on loopback.

ranvier joins a Synapse room and Synapse joins a ranvier room (make_join/send_join v2
both ways); messages flow both ways and are seen in each side's ``/sync`` or
``/messages``; name and power level changes made on either side are seen on both; and
a concurrent state conflict -- both servers change the topic and the power levels
while neither has seen the other's change -- is resolved to the same state on both
(compared with ``GET /rooms/{roomId}/state``). Server-server-api "Joining Rooms",
"Transactions", "Room State Resolution"; rooms v10 (Synapse's default).

Both users act only through their server's Client-Server API. Every wait is bounded
(:data:`~tests.federation.synapse_process.WAIT_S`), and both servers are stopped at
the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import need_service
from tests.federation.peers import Peer, start_peer
from tests.federation.synapse_process import (
    ClientUser,
    Synapse,
    eventually,
    register,
    run_synapse,
    seg,
)


@dataclass
class Pair:
    peer: Peer
    synapse: Synapse
    alice: ClientUser
    """A user of ranvier."""
    bob: ClientUser
    """A user of Synapse."""


@pytest.fixture
async def pair(tmp_path: Path, databases: dict[str, str | None]) -> AsyncIterator[Pair]:
    """A running Synapse (on its own SQLite) and ranvier (on each database)."""
    python = need_service("RANVIER_SYNAPSE_PYTHON", "Synapse")
    async with run_synapse(python, tmp_path / "synapse") as synapse:
        peer = await start_peer(tmp_path / "ranvier", database=databases["a"])
        try:
            alice_id = f"@alice:{peer.name}"
            await peer.hs.accounts.create_account(alice_id, "pw-alice")
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    peer.base + "/_matrix/client/v3/login",
                    json={
                        "type": "m.login.password",
                        "identifier": {"type": "m.id.user", "user": "alice"},
                        "password": "pw-alice",
                    },
                    ssl=False,
                ) as resp,
            ):
                login = await resp.json()
            alice = ClientUser(peer.base, alice_id, login["access_token"])
            bob_id, bob_token = await register(synapse.base, "bob")
            yield Pair(peer, synapse, alice, ClientUser(synapse.base, bob_id, bob_token))
        finally:
            await peer.stop()


async def _sees_message(user: ClientUser, room_id: str, event_id: str, body: str) -> bool:
    for event in await user.messages(room_id):
        if event["event_id"] == event_id:
            return bool(event["content"].get("body") == body)
    return False


async def _synced(user: ClientUser, room_id: str, since: str, wanted: str) -> tuple[bool, str]:
    got = await user.call("GET", f"/_matrix/client/v3/sync?since={seg(since)}&timeout=1000")
    timeline = got.get("rooms", {}).get("join", {}).get(room_id, {}).get("timeline", {})
    found = any(e["event_id"] == wanted for e in timeline.get("events", []))
    return found, str(got["next_batch"])


async def _state_is(user: ClientUser, room_id: str, event_type: str, check: Any) -> bool:
    content = await user.get_state(room_id, event_type)
    return content is not None and bool(check(content))


async def _exchange(pair: Pair, room_id: str) -> None:
    """Messages both ways, then name and power level changes from both sides."""
    alice, bob = pair.alice, pair.bob
    # ranvier -> Synapse, seen in Synapse's /messages
    to_bob = await alice.send(room_id, "hello from ranvier")
    await eventually(
        lambda: _sees_message(bob, room_id, to_bob, "hello from ranvier"),
        "Synapse shows ranvier's message",
    )
    # Synapse -> ranvier, seen in ranvier's /sync (incremental) and /messages
    since = (await alice.call("GET", "/_matrix/client/v3/sync?timeout=0"))["next_batch"]
    to_alice = await bob.send(room_id, "hello from synapse")
    seen = False

    async def in_sync() -> bool:
        nonlocal since, seen
        found, since = await _synced(alice, room_id, since, to_alice)
        seen = seen or found
        return seen

    await eventually(in_sync, "ranvier's /sync shows Synapse's message")
    assert await _sees_message(alice, room_id, to_alice, "hello from synapse")

    # Name changes from both sides (both users may: PL 100 / state_default 50 below).
    await bob.put_state(room_id, "m.room.name", {"name": "named on synapse"})
    await eventually(
        lambda: _state_is(
            alice, room_id, "m.room.name", lambda c: c == {"name": "named on synapse"}
        ),
        "ranvier sees Synapse's name change",
    )
    await alice.put_state(room_id, "m.room.name", {"name": "named on ranvier"})
    await eventually(
        lambda: _state_is(bob, room_id, "m.room.name", lambda c: c["name"] == "named on ranvier"),
        "Synapse sees ranvier's name change",
    )
    # Power level changes from both sides.
    levels = await bob.get_state(room_id, "m.room.power_levels")
    levels["users"]["@carol:example.org"] = 10
    await bob.put_state(room_id, "m.room.power_levels", levels)
    await eventually(
        lambda: _state_is(
            alice,
            room_id,
            "m.room.power_levels",
            lambda c: c["users"].get("@carol:example.org") == 10,
        ),
        "ranvier sees Synapse's power level change",
    )
    levels = await alice.get_state(room_id, "m.room.power_levels")
    levels["users"]["@carol:example.org"] = 20
    levels["events"]["m.room.topic"] = 60
    await alice.put_state(room_id, "m.room.power_levels", levels)
    await eventually(
        lambda: _state_is(
            bob,
            room_id,
            "m.room.power_levels",
            lambda c: (
                c["users"].get("@carol:example.org") == 20 and c["events"].get("m.room.topic") == 60
            ),
        ),
        "Synapse sees ranvier's power level change",
    )
    await _same_state(pair, room_id)


async def _same_state(pair: Pair, room_id: str) -> dict[tuple[str, str], str]:
    """Wait until both servers' current state is the same; return it."""
    last: list[Any] = []

    async def equal() -> bool:
        a, b = await pair.alice.state(room_id), await pair.bob.state(room_id)
        last[:] = [a, b]
        return a == b

    try:
        await eventually(equal, "both servers agree on the room state")
    except AssertionError:
        a, b = last
        diff = {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}
        raise AssertionError(f"state differs (ranvier, synapse): {diff}") from None
    return dict(last[0])


@pytest.mark.synapse
async def test_ranvier_joins_a_synapse_room(pair: Pair) -> None:
    bob, alice = pair.bob, pair.alice
    room_id = await bob.create_room(preset="public_chat", name="On Synapse")
    levels = await bob.get_state(room_id, "m.room.power_levels")
    levels["users"][alice.user_id] = 100
    await bob.put_state(room_id, "m.room.power_levels", levels)
    await alice.join(room_id, pair.synapse.name)
    assert room_id in await alice.joined_rooms()
    # ranvier holds the room's state as Synapse tells it
    assert (await alice.get_state(room_id, "m.room.name")) == {"name": "On Synapse"}

    async def alice_joined_on_synapse() -> bool:
        member = await bob.call(
            "GET",
            f"/_matrix/client/v3/rooms/{seg(room_id)}/state/m.room.member/{seg(alice.user_id)}",
            expect=None,
        )
        return bool(member.get("membership") == "join")

    await eventually(alice_joined_on_synapse, "Synapse sees ranvier's user joined")
    await _exchange(pair, room_id)


@pytest.mark.synapse
async def test_synapse_joins_a_ranvier_room(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    bob, alice = pair.bob, pair.alice
    fed = pair.peer.hs.federation_rooms
    assert fed is not None
    send_join = fed.resident.send_join
    asked: list[bool] = []

    async def spy(*args: Any, omit_members: bool = False) -> Any:
        asked.append(omit_members)
        return await send_join(*args, omit_members=omit_members)

    monkeypatch.setattr(fed.resident, "send_join", spy)
    room_id = await alice.create_room(preset="public_chat", name="On ranvier")
    levels = await alice.get_state(room_id, "m.room.power_levels")
    levels["users"][bob.user_id] = 100
    await alice.put_state(room_id, "m.room.power_levels", levels)
    await bob.join(room_id, pair.peer.name)
    assert room_id in await bob.joined_rooms()
    assert (await bob.get_state(room_id, "m.room.name")) == {"name": "On ranvier"}
    # Synapse joins with omit_members=true ("faster joins"): ranvier left alice's
    # membership out of the answer (a named room), and Synapse fetched it afterwards.
    assert asked == [True]

    async def synapse_knows_alice() -> bool:
        members = await bob.call("GET", f"/_matrix/client/v3/rooms/{seg(room_id)}/joined_members")
        return alice.user_id in members["joined"]

    await eventually(synapse_knows_alice, "Synapse completes the partial-state join")

    async def bob_joined_on_ranvier() -> bool:
        members = await alice.call("GET", f"/_matrix/client/v3/rooms/{seg(room_id)}/joined_members")
        return bob.user_id in members["joined"]

    await eventually(bob_joined_on_ranvier, "ranvier sees Synapse's user joined")
    await _exchange(pair, room_id)


@pytest.mark.synapse
async def test_concurrent_state_conflict_resolves_identically(pair: Pair) -> None:
    """Both servers change the topic and the power levels while ranvier's outbound
    queue is held: the DAG forks, each side resolves the fork, and both end with the
    same state -- before and after a message that merges the fork."""
    bob, alice, peer = pair.bob, pair.alice, pair.peer
    room_id = await alice.create_room(preset="public_chat", name="Conflict")
    levels = await alice.get_state(room_id, "m.room.power_levels")
    levels["users"][bob.user_id] = 100
    await alice.put_state(room_id, "m.room.power_levels", levels)
    await bob.join(room_id, peer.name)
    before = await _same_state(pair, room_id)
    assert before[("m.room.member", bob.user_id)]

    fed = peer.hs.federation_rooms
    assert fed is not None
    await fed.sender.stop()  # ranvier's changes stay local for now
    a_levels = dict(levels, users={**levels["users"], "@dave:example.org": 30})
    a_pl = await alice.put_state(room_id, "m.room.power_levels", a_levels)
    a_topic = await alice.put_state(room_id, "m.room.topic", {"topic": "ranvier's topic"})
    b_levels = dict(levels, users={**levels["users"], "@erin:example.org": 40})
    b_pl = await bob.put_state(room_id, "m.room.power_levels", b_levels)
    b_topic = await bob.put_state(room_id, "m.room.topic", {"topic": "synapse's topic"})
    # Synapse's changes reach ranvier, which now holds a fork
    await eventually(lambda: alice.has_event(room_id, b_topic), "ranvier gets Synapse's topic")
    assert await alice.has_event(room_id, b_pl)
    room = await peer.hs.room_storage.events.get_room(room_id)
    assert room is not None
    assert len(await peer.hs.room_storage.events.forward_extremities(room.nid)) == 2
    # ranvier's changes go out (queued by hand: the sender missed them while stopped)
    await fed.sender.start(peer.hs.bus)
    storage = peer.hs.room_storage.events
    for event_id in (a_pl, a_topic):
        stored = await storage.get_by_id(event_id)
        assert stored is not None
        await fed.sender.queue_pdu([pair.synapse.name], stored.event.pdu)
    await eventually(lambda: bob.has_event(room_id, a_topic), "Synapse gets ranvier's topic")
    resolved = await _same_state(pair, room_id)
    # Both power level events and both topics competed; one of each won, the same on both.
    assert resolved[("m.room.power_levels", "")] in (a_pl, b_pl)
    assert resolved[("m.room.topic", "")] in (a_topic, b_topic)
    # A message on each side merges the fork; still the same state on both.
    merge_a = await alice.send(room_id, "merge from ranvier")
    await eventually(lambda: bob.has_event(room_id, merge_a), "Synapse gets the merge")
    merge_b = await bob.send(room_id, "merge from synapse")
    await eventually(lambda: alice.has_event(room_id, merge_b), "ranvier gets the merge")
    assert await _same_state(pair, room_id) == resolved


async def _ephemeral(user: ClientUser, room_id: str, since: str | None) -> tuple[list[Any], str]:
    query = "timeout=1000" + (f"&since={seg(since)}" if since else "")
    got = await user.call("GET", f"/_matrix/client/v3/sync?{query}")
    room = got.get("rooms", {}).get("join", {}).get(room_id, {})
    return list(room.get("ephemeral", {}).get("events", [])), str(got["next_batch"])


@pytest.mark.synapse
async def test_typing_and_receipts_both_ways(pair: Pair) -> None:
    """``m.typing`` and ``m.receipt`` EDUs in both directions, seen in /sync."""
    bob, alice, peer = pair.bob, pair.alice, pair.peer
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id, peer.name)
    message = await alice.send(room_id, "read me")
    await eventually(lambda: bob.has_event(room_id, message), "Synapse gets the message")
    room_path = f"/_matrix/client/v3/rooms/{seg(room_id)}"

    # Synapse's user types and reads: ranvier's /sync shows both.
    _, since = await _ephemeral(alice, room_id, None)
    await bob.call(
        "PUT", f"{room_path}/typing/{seg(bob.user_id)}", {"typing": True, "timeout": 20000}
    )
    await bob.call("POST", f"{room_path}/receipt/m.read/{seg(message)}", {})
    typing_seen = receipt_seen = False

    async def ranvier_sees() -> bool:
        nonlocal since, typing_seen, receipt_seen
        events, since = await _ephemeral(alice, room_id, since)
        for e in events:
            if e["type"] == "m.typing" and bob.user_id in e["content"]["user_ids"]:
                typing_seen = True
            if e["type"] == "m.receipt" and bob.user_id in e["content"].get(message, {}).get(
                "m.read", {}
            ):
                receipt_seen = True
        return typing_seen and receipt_seen

    await eventually(ranvier_sees, "ranvier's /sync shows Synapse's typing and receipt")
    await bob.call("PUT", f"{room_path}/typing/{seg(bob.user_id)}", {"typing": False})
    await eventually(
        lambda: _typing_is(peer, room_id, []), "ranvier hears Synapse's user stopped typing"
    )

    # ranvier's user types and reads: Synapse's /sync shows both.
    reply = await bob.send(room_id, "read me too")
    await eventually(lambda: alice.has_event(room_id, reply), "ranvier gets the reply")
    _, since = await _ephemeral(bob, room_id, None)
    await alice.call(
        "PUT", f"{room_path}/typing/{seg(alice.user_id)}", {"typing": True, "timeout": 20000}
    )
    await alice.call("POST", f"{room_path}/receipt/m.read/{seg(reply)}", {})
    typing_seen = receipt_seen = False

    async def synapse_sees() -> bool:
        nonlocal since, typing_seen, receipt_seen
        events, since = await _ephemeral(bob, room_id, since)
        for e in events:
            if e["type"] == "m.typing" and alice.user_id in e["content"]["user_ids"]:
                typing_seen = True
            if e["type"] == "m.receipt" and alice.user_id in e["content"].get(reply, {}).get(
                "m.read", {}
            ):
                receipt_seen = True
        return typing_seen and receipt_seen

    await eventually(synapse_sees, "Synapse's /sync shows ranvier's typing and receipt")


async def _typing_is(peer: Peer, room_id: str, users: list[str]) -> bool:
    return peer.hs.typing.typing_users(room_id) == users

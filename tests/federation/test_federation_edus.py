"""EDUs between two real ranvier servers on loopback: typing, receipts and presence
going out through the persisted sender and coming in through ``PUT /send``; the
spec's checks on inbound ones (the user belongs to the origin and is in the room);
device list and signing key updates stored, with a resynchronisation through
``/user/devices`` when an update was missed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ranvier.federation.edus import FederationEdus
from ranvier.server import Homeserver
from tests.federation.helpers import eventually, send_txn, shared_room, start_two
from tests.federation.peers import Peer


def edus_of(hs: Homeserver) -> FederationEdus:
    assert hs.federation_edus is not None
    return hs.federation_edus


async def two(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> tuple[Peer, Peer, str, str, str]:
    a, b = await start_two(tmp_path, peers, databases)
    room_id, alice, bob = await shared_room(a, b)
    return a, b, room_id, alice, bob


async def test_typing_both_ways_and_inbound_checks(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b, room_id, alice, bob = await two(tmp_path, peers, databases)

    async def typing_on(peer: Peer, users: list[str]) -> bool:
        return peer.hs.typing.typing_users(room_id) == users

    b.hs.typing.set_typing(room_id, bob, True, 20_000)
    await eventually(lambda: typing_on(a, [bob]))
    a.hs.typing.set_typing(room_id, alice, True, 20_000)
    await eventually(lambda: typing_on(b, sorted([alice, bob])))
    b.hs.typing.set_typing(room_id, bob, False)
    await eventually(lambda: typing_on(a, [alice]))
    # A's own timeout ends alice's typing, and B hears that she stopped.
    a.hs.typing.set_typing(room_id, alice, True, 300)
    await eventually(lambda: typing_on(b, []))

    # Inbound checks: a user of another server, and a user of B not in the room.
    received = edus_of(a.hs).typing.received
    forged = [
        {"edu_type": "m.typing", "content": {"room_id": room_id, "user_id": alice, "typing": True}},
        {
            "edu_type": "m.typing",
            "content": {"room_id": room_id, "user_id": f"@carol:{b.name}", "typing": True},
        },
        {"edu_type": "m.typing", "content": {"room_id": room_id, "user_id": bob, "typing": "y"}},
    ]
    await send_txn(b, a, "forged-typing", [], edus=forged)
    assert a.hs.typing.typing_users(room_id) == []
    assert edus_of(a.hs).typing.received == received


async def test_typing_renewed_while_typing(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b, room_id, _, bob = await two(tmp_path, peers, databases)
    producer = edus_of(b.hs).typing
    producer.renew_ms = 200
    await producer.stop()
    producer.start()
    b.hs.typing.set_typing(room_id, bob, True, 20_000)
    consumer = edus_of(a.hs).typing
    await eventually(lambda: _at_least(lambda: consumer.received, 3))
    assert a.hs.typing.typing_users(room_id) == [bob]


async def _at_least(value: Callable[[], int], n: int) -> bool:
    return value() >= n


async def test_receipts_both_ways(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b, room_id, alice, bob = await two(tmp_path, peers, databases)
    first = await a.hs.rooms.send_event(room_id, alice, "m.room.message", {"body": "one"})

    async def b_has(event_id: str) -> bool:
        return await b.hs.room_storage.events.get_by_id(event_id) is not None

    await eventually(lambda: b_has(first))
    # A private receipt stays on B; a public one reaches A.
    assert await b.hs.receipts.send_receipt(room_id, bob, "m.read.private", first)
    assert await b.hs.receipts.send_receipt(room_id, bob, "m.read", first)

    async def a_sees(receipt_type: str, user: str, event_id: str, peer: Peer = a) -> bool:
        got = await peer.hs.receipts.store.get(room_id, receipt_type, user)
        return got is not None and got.event_id == event_id

    await eventually(lambda: a_sees("m.read", bob, first))
    assert await a.hs.receipts.store.get(room_id, "m.read.private", bob) is None
    # In A's sync stream for alice, as an m.receipt event.
    position = await a.hs.receipts.current_position()
    changes = await a.hs.receipts.changes_since(alice, {room_id}, 0, position)
    assert changes[room_id]["content"][first]["m.read"][bob]["ts"] > 0

    # The other way, with a thread id.
    second = await b.hs.rooms.send_event(room_id, bob, "m.room.message", {"body": "two"})
    await eventually(lambda: _held(a, second))
    assert await a.hs.receipts.send_receipt(room_id, alice, "m.read", second, "main")
    await eventually(lambda: _thread_receipt(b, room_id, alice, second))

    # Inbound checks: another server's user, a user not in the room, a private type.
    received = edus_of(a.hs).receipts.received
    edu = {
        "edu_type": "m.receipt",
        "content": {
            room_id: {
                "m.read": {
                    alice: {"event_ids": [second], "data": {"ts": 1}},
                    f"@carol:{b.name}": {"event_ids": [second], "data": {"ts": 1}},
                },
                "m.read.private": {bob: {"event_ids": [second], "data": {"ts": 1}}},
            }
        },
    }
    await send_txn(b, a, "forged-receipts", [], edus=[edu])
    assert edus_of(a.hs).receipts.received == received
    assert await a.hs.receipts.store.get(room_id, "m.read", f"@carol:{b.name}") is None
    assert await a.hs.receipts.store.get(room_id, "m.read.private", bob) is None


async def _held(peer: Peer, event_id: str) -> bool:
    return await peer.hs.room_storage.events.get_by_id(event_id) is not None


async def _thread_receipt(peer: Peer, room_id: str, user: str, event_id: str) -> bool:
    got = await peer.hs.receipts.store.get(room_id, "m.read", user, "main")
    return got is not None and got.event_id == event_id and got.data.get("thread_id") == "main"


async def test_presence_follows_the_federation_flags(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b, _, alice, bob = await two(tmp_path, peers, databases)
    fed_b = b.hs.federation_rooms
    assert fed_b is not None
    consumer = edus_of(a.hs).presence
    a.hs.presence.inbound = True
    # Outbound off at B (the default): nothing goes out.
    b.hs.presence.outbound = False
    await b.hs.presence.set_status(bob, "unavailable", "not sent")
    await edus_of(b.hs).presence.worker.idle()
    # Outbound on: the next change reaches A, stored and visible to alice.
    b.hs.presence.outbound = True
    await b.hs.presence.set_status(bob, "unavailable", "gone fishing")

    async def a_status_is(msg: str) -> bool:
        got = await a.hs.presence.store.get(bob)
        return got is not None and got.status_msg == msg

    await eventually(lambda: a_status_is("gone fishing"))
    assert consumer.received == 1  # the change made while outbound was off never came
    status = await a.hs.presence.get_status(alice, bob)
    assert status["presence"] == "unavailable" and status["status_msg"] == "gone fishing"
    # Inbound off at A: B sends, A drops it.
    a.hs.presence.inbound = False
    await b.hs.presence.set_status(bob, "online", "dropped by A")
    await edus_of(b.hs).presence.worker.idle()

    async def b_queue_empty() -> bool:
        return await fed_b.sender.pending(a.name) == 0

    await eventually(b_queue_empty)
    assert await a_status_is("gone fishing") and consumer.received == 1
    # A presence push for a user of another server is ignored.
    a.hs.presence.inbound = True
    push = {"push": [{"user_id": alice, "presence": "offline", "last_active_ago": 5}]}
    await send_txn(b, a, "forged-presence", [], edus=[{"edu_type": "m.presence", "content": push}])
    assert consumer.received == 1


async def test_device_list_updates_stored_and_resynced(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b, _, _, bob = await two(tmp_path, peers, databases)
    store = edus_of(a.hs).device_lists.store

    def update(stream_id: int, prev: list[int], device: str = "DEV1", **more: Any) -> Any:
        content = {"user_id": bob, "device_id": device, "stream_id": stream_id, "prev_id": prev}
        return {"edu_type": "m.device_list_update", "content": {**content, **more}}

    # A knows nothing of bob's list: his first update makes A fetch the whole list from
    # B's /user/devices (bob has no device keys on B: an empty list at stream 0).
    lists = edus_of(a.hs).device_lists
    await send_txn(b, a, "dl0", [], edus=[update(0, [])])
    await eventually(lambda: _at_least(lambda: lists.resyncs, 1))
    assert await store.stream_state(bob) == (0, False)
    keys = {"user_id": bob, "device_id": "DEV1", "algorithms": [], "keys": {}, "signatures": {}}
    await send_txn(b, a, "dl1", [], edus=[update(1, [0], keys=keys, device_display_name="phone")])
    devices = await store.devices(bob)
    assert [(d.device_id, d.display_name, d.keys) for d in devices] == [("DEV1", "phone", keys)]
    # In order: applied. An older update for the device changes nothing.
    await send_txn(b, a, "dl2", [], edus=[update(2, [1], device_display_name="new phone")])
    await send_txn(b, a, "dl3", [], edus=[update(1, [], device_display_name="stale")])
    assert [d.display_name for d in await store.devices(bob)] == ["new phone"]
    assert await store.stream_state(bob) == (2, False)
    # A deletion.
    await send_txn(
        b, a, "dl4", [], edus=[update(3, [2], device="DEV2"), update(4, [3], deleted=True)]
    )
    assert [d.device_id for d in await store.devices(bob)] == ["DEV2"]
    # A user of another server: ignored.
    stranger = {**update(9, [])["content"], "user_id": "@x:elsewhere.example"}
    await send_txn(
        b, a, "dl5", [], edus=[{"edu_type": "m.device_list_update", "content": stranger}]
    )
    assert await store.stream_state("@x:elsewhere.example") is None
    # An update building on one A never saw (prev 7): applied, then the whole list is
    # fetched from B's /user/devices (bob has no device keys on B: an empty list).
    await send_txn(b, a, "dl6", [], edus=[update(8, [7], device="DEV3")])
    await eventually(lambda: _at_least(lambda: lists.resyncs, 2))
    assert await store.devices(bob) == []
    assert await store.stream_state(bob) == (0, False)
    # Cross-signing keys of B's users are kept; keys claiming another user are not.
    master = {"user_id": bob, "usage": ["master"], "keys": {"ed25519:abc": "abc"}}
    content = {"user_id": bob, "master_key": master, "self_signing_key": {"user_id": "@y:z"}}
    await send_txn(b, a, "sk", [], edus=[{"edu_type": "m.signing_key_update", "content": content}])
    assert await store.cross_signing_key(bob, "master") == master
    assert await store.cross_signing_key(bob, "self_signing") is None


async def test_presence_exchanged_when_a_join_brings_servers_together(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    """No presence changes after the join, yet each side learns the other's users'
    presence: the joiner's server sends its user's, the host sends its members'."""
    a, b = await start_two(tmp_path, peers, databases)
    for peer in (a, b):
        peer.hs.presence.inbound = peer.hs.presence.outbound = True
    alice, bob = f"@alice:{a.name}", f"@bob:{b.name}"
    await a.hs.accounts.create_account(alice, "pw")
    await b.hs.accounts.create_account(bob, "pw")
    await a.hs.presence.set_status(alice, "online", "hosting")
    await b.hs.presence.set_status(bob, "unavailable", "joining")
    room_id = await a.hs.rooms.create_room(alice, preset="private_chat")
    await a.hs.membership.invite(room_id, alice, bob)
    await b.hs.membership.join(room_id, bob)

    async def knows(peer: Peer, user_id: str, msg: str) -> bool:
        got = await peer.hs.presence.store.get(user_id)
        return got is not None and got.status_msg == msg

    await eventually(lambda: knows(a, bob, "joining"))
    await eventually(lambda: knows(b, alice, "hosting"))

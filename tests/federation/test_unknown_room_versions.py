"""Room versions this server does not implement, from other servers: refused as the
spec says, counted as ``unknown_room_version`` in ``ranvier_federation_rejected_total``,
and nothing stored.

Spec: "Room Versions" (servers must not take part in rooms of versions they do not
implement); server-server-api "Joining Rooms" (make_join's ``room_version``, 400
``M_INCOMPATIBLE_ROOM_VERSION``), "Knocking upon a room", "Inviting to a room"
(invites-v2.yaml: 400 ``M_INCOMPATIBLE_ROOM_VERSION``), "Transactions";
client-server-api "Common error codes" (``M_INCOMPATIBLE_ROOM_VERSION`` with
``room_version`` for a join).

Two real ranvier servers: A hosts the rooms and is made to name an unknown version
(its resident answers patched in-process), B's users try to join or knock; B invites
A's users and sends A PDUs of a room A holds with a version it does not know.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ranvier.core.builder import build_event
from ranvier.core.hashes import compute_event_id
from ranvier.core.room_versions import get_room_version
from ranvier.core.signing import sign_event
from ranvier.federation.client import RemoteError, path_segment
from ranvier.federation.joins import JoinResident
from ranvier.http.types import MatrixError
from tests.federation.helpers import call, craft, login, send_txn, shared_room, start_two, stored
from tests.federation.peers import Peer

UNKNOWN = "org.example.v99"


def _count(peer: Peer) -> int:
    return peer.hs.federation_metrics.value("unknown_room_version")


def _resident(peer: Peer) -> JoinResident:
    fed = peer.hs.federation_rooms
    assert fed is not None
    return fed.resident


def _patch_make(monkeypatch: pytest.MonkeyPatch, peer: Peer, answer: Callable[[Any], Any]) -> None:
    """Make ``peer``'s make_join/make_knock answers go through ``answer``."""
    resident = _resident(peer)
    original = resident.make_membership

    async def patched(*args: Any, **kwargs: Any) -> Any:
        return answer(await original(*args, **kwargs))

    monkeypatch.setattr(resident, "make_membership", patched)


def _fake_create(peer: Peer, room_id: str, creator: str) -> dict[str, Any]:
    """A well-formed v10 create event of ``room_id``, signed by ``peer``, naming the
    unknown room version."""
    return build_event(
        room_version=get_room_version("10"),
        room_id=room_id,
        sender=creator,
        event_type="m.room.create",
        content={"creator": creator, "room_version": UNKNOWN},
        state_key="",
        prev_events=[],
        auth_events=[],
        origin=peer.name,
        signing_key=peer.key,
    ).pdu


@pytest.fixture
async def two(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> tuple[Peer, Peer]:
    return await start_two(tmp_path, peers, databases)


async def _nothing_at(peer: Peer, room_id: str) -> bool:
    return await peer.hs.room_storage.events.get_room(room_id) is None


async def test_make_join_with_unknown_version(
    two: tuple[Peer, Peer], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two
    await a.hs.accounts.create_account(f"@alice:{a.name}", "pw")
    room_id = await a.hs.rooms.create_room(f"@alice:{a.name}", preset="public_chat")
    token = await login(b, "bob")
    path = f"/_matrix/client/v3/join/{path_segment(room_id)}?server_name={a.name}"

    # make_join names a version B does not implement: 400 to the client at once.
    _patch_make(monkeypatch, a, lambda made: {**made, "room_version": UNKNOWN})
    before = _count(b)
    status, body = await call(b, "POST", path, token, {})
    assert (status, body["errcode"], body["room_version"]) == (
        400,
        "M_INCOMPATIBLE_ROOM_VERSION",
        UNKNOWN,
    )
    assert _count(b) == before + 1
    assert await _nothing_at(b, room_id)

    # The resident itself says B supports none of its versions: passed on, counted.
    async def incompatible(*args: Any, **kwargs: Any) -> Any:
        raise MatrixError(400, "M_INCOMPATIBLE_ROOM_VERSION", "upgrade", room_version=UNKNOWN)

    monkeypatch.setattr(_resident(a), "make_membership", incompatible)
    status, body = await call(b, "POST", path, token, {})
    assert (status, body["errcode"], body["room_version"]) == (
        400,
        "M_INCOMPATIBLE_ROOM_VERSION",
        UNKNOWN,
    )
    assert _count(b) == before + 2
    assert await _nothing_at(b, room_id)


async def test_send_join_answer_with_unknown_create_version(
    two: tuple[Peer, Peer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The send_join answer's create event (signed, well formed) names a version other
    than make_join's that B does not implement: the join fails, nothing stored."""
    a, b = two
    alice = f"@alice:{a.name}"
    await a.hs.accounts.create_account(alice, "pw")
    room_id = await a.hs.rooms.create_room(alice, preset="public_chat", room_version="10")
    resident = _resident(a)
    original = resident.send_join

    async def patched(*args: Any, **kwargs: Any) -> Any:
        answer = await original(*args, **kwargs)
        fake = _fake_create(a, room_id, alice)
        answer["state"] = [fake if p["type"] == "m.room.create" else p for p in answer["state"]]
        return answer

    monkeypatch.setattr(resident, "send_join", patched)
    token = await login(b, "bob")
    before = _count(b)
    status, body = await call(
        b, "POST", f"/_matrix/client/v3/join/{path_segment(room_id)}?server_name={a.name}", token
    )
    assert (status, body["errcode"], body["room_version"]) == (
        400,
        "M_INCOMPATIBLE_ROOM_VERSION",
        UNKNOWN,
    )
    assert _count(b) == before + 1
    assert await _nothing_at(b, room_id)


async def test_make_knock_with_unknown_version(
    two: tuple[Peer, Peer], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two
    alice = f"@alice:{a.name}"
    await a.hs.accounts.create_account(alice, "pw")
    room_id = await a.hs.rooms.create_room(
        alice,
        room_version="10",
        initial_state=[{"type": "m.room.join_rules", "content": {"join_rule": "knock"}}],
    )
    _patch_make(monkeypatch, a, lambda made: {**made, "room_version": UNKNOWN})
    token = await login(b, "bob")
    before = _count(b)
    status, body = await call(
        b, "POST", f"/_matrix/client/v3/knock/{path_segment(room_id)}?server_name={a.name}", token
    )
    assert (status, body["errcode"], body["room_version"]) == (
        400,
        "M_INCOMPATIBLE_ROOM_VERSION",
        UNKNOWN,
    )
    assert _count(b) == before + 1
    assert await _nothing_at(b, room_id)


async def test_knock_room_state_with_unknown_create_version(
    two: tuple[Peer, Peer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """send_knock's room state holds a signed create event of an unknown version: the
    state is dropped and counted (the knock itself was accepted by the resident)."""
    a, b = two
    alice = f"@alice:{a.name}"
    await a.hs.accounts.create_account(alice, "pw")
    room_id = await a.hs.rooms.create_room(
        alice,
        room_version="10",
        initial_state=[{"type": "m.room.join_rules", "content": {"join_rule": "knock"}}],
    )
    resident = _resident(a)
    original = resident.send_knock

    async def patched(*args: Any, **kwargs: Any) -> Any:
        answer = await original(*args, **kwargs)
        fake = _fake_create(a, room_id, alice)
        answer["knock_room_state"] = [
            fake if p["type"] == "m.room.create" else p for p in answer["knock_room_state"]
        ]
        return answer

    monkeypatch.setattr(resident, "send_knock", patched)
    token = await login(b, "bob")
    before = _count(b)
    status, body = await call(
        b, "POST", f"/_matrix/client/v3/knock/{path_segment(room_id)}?server_name={a.name}", token
    )
    assert status == 200, body
    assert _count(b) == before + 1


async def test_invite_with_unknown_version(two: tuple[Peer, Peer]) -> None:
    a, b = two
    alice, bob = f"@alice:{a.name}", f"@bob:{b.name}"
    await a.hs.accounts.create_account(alice, "pw")
    await b.hs.accounts.create_account(bob, "pw")
    # A well-formed invite of alice, as B would send it for one of its own rooms.
    room_id = await b.hs.rooms.create_room(bob, room_version="10")
    rv = get_room_version("10")
    storage = b.hs.room_storage
    room = await storage.events.get_room(room_id)
    assert room is not None
    state = await storage.state_events(await storage.current_state(room.nid))
    ext = await storage.events.forward_extremities(room.nid)
    prev = [s.event for s in (await storage.events.get_by_nids(ext)).values()]
    invite = build_event(
        room_version=rv,
        room_id=room_id,
        sender=bob,
        event_type="m.room.member",
        content={"membership": "invite"},
        state_key=alice,
        prev_events=prev,
        auth_events=[state[("m.room.create", "")], state[("m.room.member", bob)]],
        origin=b.name,
        signing_key=b.key,
    )
    before = _count(a)
    with pytest.raises(RemoteError) as err:
        await b.hs.federation.client.put_json(
            a.name,
            f"/_matrix/federation/v2/invite/{path_segment(room_id)}/{path_segment(invite.event_id)}",
            {"room_version": UNKNOWN, "event": invite.pdu, "invite_room_state": []},
        )
    assert (err.value.status, err.value.errcode) == (400, "M_INCOMPATIBLE_ROOM_VERSION")
    assert err.value.body["room_version"] == UNKNOWN
    assert _count(a) == before + 1

    # A known room_version, but the room state's (signed) create event names an
    # unknown one: the same refusal.
    fake = _fake_create(b, room_id, bob)
    with pytest.raises(RemoteError) as err:
        await b.hs.federation.client.put_json(
            a.name,
            f"/_matrix/federation/v2/invite/{path_segment(room_id)}/{path_segment(invite.event_id)}",
            {"room_version": "10", "event": invite.pdu, "invite_room_state": [fake]},
        )
    assert (err.value.status, err.value.errcode) == (400, "M_INCOMPATIBLE_ROOM_VERSION")
    assert _count(a) == before + 2
    assert await _nothing_at(a, room_id)
    fed = a.hs.federation_rooms
    assert fed is not None and fed.invites.received == 0


async def test_send_pdus_of_a_room_with_unknown_version(two: tuple[Peer, Peer]) -> None:
    """A room A holds under a version it does not implement (stored by some other
    release, say): its PDUs are dropped and counted, typing EDUs for it ignored, the
    transaction answered (no 500), the other rooms' PDUs unaffected."""
    a, b = two
    room_id, _, bob = await shared_room(a, b)
    ok = await craft(a, b, room_id, bob, "m.room.message", {"body": "fine"})
    strange = "!strange:" + b.name
    await a.hs.room_storage.db.execute(
        "INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES ($1, $2, $3, $4)",
        strange,
        UNKNOWN,
        bob,
        int(time.time() * 1000),
    )
    pdu = dict(ok.pdu, room_id=strange)
    pdu = sign_event(
        {k: v for k, v in pdu.items() if k != "signatures"}, b.name, b.key, ok.room_version
    )
    other_id = compute_event_id(pdu, ok.room_version)
    before = _count(a)
    answer = await send_txn(
        b,
        a,
        "unknown-version",
        [ok.pdu, pdu],
        edus=[{"edu_type": "m.typing", "content": {"room_id": strange, "user_id": bob}}],
    )
    assert answer["pdus"][ok.event_id] == {}
    errors = [v for k, v in answer["pdus"].items() if k != ok.event_id]
    assert len(errors) == 1 and UNKNOWN in errors[0]["error"]
    assert _count(a) == before + 1
    assert await stored(a, other_id) is None
    assert await stored(a, ok.event_id) is not None

"""``PUT /v2/send_join?omit_members=true`` (joins-v2.yaml, Matrix 1.6): a resident
ranvier leaves membership events out of ``state`` except the joiner's own and, in a
room with no name or alias, the heroes'; the auth chain leaves out what ``state``
holds; ``members_omitted`` and ``servers_in_room`` say so. Without the parameter the
whole state comes back.

Three real servers: A hosts the rooms (several local members), B has a joined member,
C joins by hand-made ``make_join``/``send_join`` so the test chooses the query.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ranvier.core.hashes import compute_event_id
from ranvier.core.room_versions import KNOWN_ROOM_VERSIONS, get_room_version
from ranvier.core.signing import sign_event
from ranvier.federation.client import RemoteError, path_segment
from ranvier.http.types import MatrixError
from tests.federation.peers import Peer, start_peer

V1 = "/_matrix/federation/v1"
V2 = "/_matrix/federation/v2"


async def _send_join(
    joiner: Peer, resident: Peer, room_id: str, user_id: str, query: dict[str, str] | None
) -> Any:
    """make_join then send_join from ``joiner`` for ``user_id``, with ``query``."""
    client = joiner.hs.federation.client
    made = await client.get_json(
        resident.name,
        f"{V1}/make_join/{path_segment(room_id)}/{path_segment(user_id)}",
        {"ver": list(KNOWN_ROOM_VERSIONS)},
    )
    rv = get_room_version(made["room_version"])
    pdu = dict(made["event"])
    pdu.pop("origin", None)
    pdu["origin_server_ts"] = int(time.time() * 1000)
    signed = sign_event(pdu, joiner.name, joiner.key, rv)
    event_id = compute_event_id(signed, rv)
    return await client.put_json(
        resident.name,
        f"{V2}/send_join/{path_segment(room_id)}/{path_segment(event_id)}",
        signed,
        query,
    )


def _members(pdus: list[dict[str, Any]]) -> set[str]:
    return {p["state_key"] for p in pdus if p["type"] == "m.room.member"}


def _ids(pdus: list[dict[str, Any]], room_version: str) -> set[str]:
    rv = get_room_version(room_version)
    return {compute_event_id(p, rv) for p in pdus}


def _auth_ids(pdus: list[dict[str, Any]]) -> set[str]:
    out: set[str] = set()
    for p in pdus:
        for ref in p["auth_events"]:
            out.add(ref if isinstance(ref, str) else ref[0])
    return out


async def _room(a: Peer, b: Peer, locals_: list[str], bob: str, **kw: Any) -> str:
    alice = locals_[0]
    room_id = await a.hs.rooms.create_room(alice, preset="public_chat", **kw)
    for user in locals_[1:]:
        await a.hs.membership.join(room_id, user)
    await b.hs.membership.join(room_id, bob, servers=[a.name])
    return room_id


@pytest.fixture
async def three(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> tuple[Peer, Peer, Peer]:
    started = [await start_peer(tmp_path / n, database=databases[n]) for n in ("a", "b", "c")]
    peers += started
    return started[0], started[1], started[2]


async def test_send_join_with_and_without_omit_members(three: tuple[Peer, Peer, Peer]) -> None:
    a, b, c = three
    locals_ = [f"@u{i}:{a.name}" for i in range(7)]
    bob, carol, dave = f"@bob:{b.name}", f"@carol:{c.name}", f"@dave:{c.name}"
    for user in locals_:
        await a.hs.accounts.create_account(user, "pw")
    await b.hs.accounts.create_account(bob, "pw")
    alice = locals_[0]

    # A named room: carol, invited first, joins asking for partial state.
    named = await _room(a, b, locals_[:4], bob, room_version="12", name="Partial")
    await a.hs.membership.invite(named, alice, carol)
    answer = await _send_join(c, a, named, carol, {"omit_members": "true"})
    assert answer["members_omitted"] is True
    assert answer["servers_in_room"] == sorted([a.name, b.name])
    state, chain = answer["state"], answer["auth_chain"]
    # Only carol's own membership (her invite) is left among the members.
    assert _members(state) == {carol}
    assert {p["content"]["membership"] for p in state if p["type"] == "m.room.member"} == {"invite"}
    types = {p["type"] for p in state}
    assert {"m.room.create", "m.room.power_levels", "m.room.join_rules", "m.room.name"} <= types
    # The auth chain holds nothing already in state, and with state it covers every
    # auth event of the state and of the join.
    state_ids, chain_ids = _ids(state, "12"), _ids(chain, "12")
    assert not state_ids & chain_ids
    assert _auth_ids([*state, *chain, answer["event"]]) <= state_ids | chain_ids
    # The auth chain still names alice (she sent the invite and the room's state).
    assert alice in {p["sender"] for p in chain} | {p["sender"] for p in state}

    # Without omit_members (and with =false) the whole state: every member.
    for query in (None, {"omit_members": "false"}):
        full = await _send_join(c, a, named, dave, query)
        assert full["members_omitted"] is False
        assert _members(full["state"]) >= {*locals_[:4], bob, carol}
        full_ids = _ids(full["state"], "12")
        assert _auth_ids(full["state"]) <= full_ids | _ids(full["auth_chain"], "12")
    assert full["servers_in_room"] == sorted([a.name, b.name, c.name])

    # A room with no name nor alias: the heroes' memberships are kept (the first five
    # joined members other than the joiner), the others' are not.
    unnamed = await _room(a, b, locals_, bob, room_version="10")
    answer = await _send_join(c, a, unnamed, carol, {"omit_members": "true"})
    assert answer["members_omitted"] is True
    assert _members(answer["state"]) == set(locals_[:5])
    state_ids, chain_ids = _ids(answer["state"], "10"), _ids(answer["auth_chain"], "10")
    assert not state_ids & chain_ids
    assert _auth_ids([*answer["state"], *answer["auth_chain"], answer["event"]]) <= (
        state_ids | chain_ids
    )

    # A malformed flag is refused before anything is stored.
    with pytest.raises(RemoteError) as err:
        await _send_join(c, a, unnamed, dave, {"omit_members": "yes"})
    assert err.value.status == 400 and err.value.errcode == "M_INVALID_PARAM"
    room = await a.hs.room_storage.events.get_room(unnamed)
    assert room is not None
    assert await a.hs.room_storage.events.membership_of(room.nid, dave) is None


async def test_own_joins_ask_for_the_whole_state(
    three: tuple[Peer, Peer, Peer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ranvier's own joins never send ``omit_members`` and refuse an answer that
    omitted members anyway (it would store a partial state as the room's state)."""
    a, b, _ = three
    alice, bob = f"@alice:{a.name}", f"@bob:{b.name}"
    await a.hs.accounts.create_account(alice, "pw")
    await b.hs.accounts.create_account(bob, "pw")
    room_id = await a.hs.rooms.create_room(alice, preset="public_chat", name="Whole")
    fed = a.hs.federation_rooms
    assert fed is not None
    original = fed.resident.send_join
    asked: list[bool] = []

    async def spy(*args: Any, omit_members: bool = False) -> Any:
        asked.append(omit_members)
        return await original(*args, omit_members=omit_members)

    monkeypatch.setattr(fed.resident, "send_join", spy)
    await b.hs.membership.join(room_id, bob, servers=[a.name])
    assert asked == [False]

    async def partial(*args: Any, omit_members: bool = False) -> Any:
        return await original(*args, omit_members=True)

    monkeypatch.setattr(fed.resident, "send_join", partial)
    other = await a.hs.rooms.create_room(alice, preset="public_chat", name="Other")
    with pytest.raises(MatrixError):
        await b.hs.membership.join(other, bob, servers=[a.name])
    assert await b.hs.room_storage.events.get_room(other) is None

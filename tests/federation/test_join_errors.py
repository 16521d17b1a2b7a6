"""A resident server's refusal of a join is passed through to the client
(joins-v1.yaml/joins-v2.yaml: "The error should be passed through to clients so that
they may give better feedback to users"), except ``M_MISSING_PARAM`` and
``M_INVALID_PARAM``, which fail the client's request with a 5xx as they say; a room
no server can help with is 404 ``M_NOT_FOUND``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ranvier.core.hashes import compute_event_id
from ranvier.core.room_versions import get_room_version
from ranvier.federation.client import path_segment
from ranvier.http.types import MatrixError
from tests.federation.helpers import call, login, start_two
from tests.federation.peers import Peer


async def test_make_join_refusals_reach_the_client(
    tmp_path: Path,
    peers: list[Peer],
    databases: dict[str, str | None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    alice = f"@alice:{a.name}"
    await a.hs.accounts.create_account(alice, "pw")
    private = await a.hs.rooms.create_room(alice, preset="private_chat")
    token = await login(b, "bob")

    async def join(room_id: str) -> tuple[int, Any]:
        return await call(
            b,
            "POST",
            f"/_matrix/client/v3/join/{path_segment(room_id)}?server_name={a.name}",
            token,
            {},
        )

    # A real refusal: bob is not invited to the private room.
    status, body = await join(private)
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    # A room the resident does not know: nobody can help.
    status, body = await join(f"!nowhere:{a.name}")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")

    fed = a.hs.federation_rooms
    assert fed is not None
    errcode = "M_TEST_ERROR_CODE"

    async def refuse(*args: Any, **kwargs: Any) -> Any:
        raise MatrixError(400, errcode, "denied!")

    monkeypatch.setattr(fed.resident, "make_membership", refuse)
    status, body = await join(private)
    assert (status, body["errcode"]) == (400, "M_TEST_ERROR_CODE")
    errcode = "M_INVALID_PARAM"
    status, body = await join(private)
    assert status == 502


async def test_event_with_a_bad_signature_in_the_send_join_answer_is_dropped(
    tmp_path: Path,
    peers: list[Peer],
    databases: dict[str, str | None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One event of the answer fails its signature check: it is dropped and counted as
    ``bad_signature``, and the join still succeeds ("Checks performed on receipt of a
    PDU")."""
    a, b = await start_two(tmp_path, peers, databases)
    alice, bob = f"@alice:{a.name}", f"@bob:{b.name}"
    await a.hs.accounts.create_account(alice, "pw")
    await b.hs.accounts.create_account(bob, "pw")
    room_id = await a.hs.rooms.create_room(alice, preset="public_chat", room_version="10")
    await a.hs.rooms.set_state(room_id, alice, "org.example.test", "", {"body": "Test"})
    fed = a.hs.federation_rooms
    assert fed is not None
    original = fed.resident.send_join
    tampered: list[str] = []

    async def patched(*args: Any, **kwargs: Any) -> Any:
        answer = await original(*args, **kwargs)
        out = []
        for pdu in answer["state"]:
            if pdu["type"] == "org.example.test":
                pdu = dict(pdu, state_key="something")  # signature no longer matches
                tampered.append(compute_event_id(pdu, get_room_version("10")))
            out.append(pdu)
        answer["state"] = out
        return answer

    monkeypatch.setattr(fed.resident, "send_join", patched)
    before = b.hs.federation_metrics.value("bad_signature")
    await b.hs.membership.join(room_id, bob, servers=[a.name])
    room = await b.hs.room_storage.events.get_room(room_id)
    assert room is not None
    assert await b.hs.room_storage.events.membership_of(room.nid, bob) == "join"
    assert b.hs.federation_metrics.value("bad_signature") == before + 1
    assert len(tampered) == 1
    assert await b.hs.room_storage.events.get_by_id(tampered[0]) is None

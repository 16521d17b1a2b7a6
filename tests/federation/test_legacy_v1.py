"""The v1 forms of send_join, send_leave and invite between two real ranvier servers
(:mod:`ranvier.federation.legacy_v1`): served with their ``[200, ...]`` answers and
403 for a bad signature or sender; tried when the other server does not know the v2
endpoint; and the JSON checks of invites both ways (server-server-api "Inviting to a
room", invites-v1.yaml, invites-v2.yaml; joins-v2.yaml and leaving-v2.yaml for the v2
errors). The two-server tests run on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from yarl import URL

from ranvier.core.b64 import encode_base64
from ranvier.core.canonical_json import encode_canonical_json
from ranvier.core.hashes import compute_event_id
from ranvier.core.room_versions import KNOWN_ROOM_VERSIONS, get_room_version
from ranvier.core.signing import SigningKey, generate_signing_key, sign_event
from ranvier.federation.client import RemoteError, path_segment
from ranvier.federation.legacy_v1 import is_unknown_endpoint, unwrap_v1, wrap_v1
from ranvier.federation.xmatrix import request_json
from ranvier.http.types import MatrixError
from tests.federation.helpers import (
    call,
    craft,
    eventually,
    login,
    membership,
    membership_is,
    start_two,
)
from tests.federation.peers import Peer

V1 = "/_matrix/federation/v1"
V2 = "/_matrix/federation/v2"


def test_unknown_endpoint_and_wrapping() -> None:
    unknown = [
        RemoteError(404, None),
        RemoteError(404, {"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"}),
        RemoteError(405, {"errcode": "M_UNRECOGNIZED"}),
        RemoteError(400, {"errcode": "M_UNRECOGNIZED"}),
    ]
    assert all(is_unknown_endpoint(e) for e in unknown)
    known = [
        RemoteError(404, {"errcode": "M_NOT_FOUND", "error": "No such room"}),
        RemoteError(400, {"errcode": "M_BAD_JSON"}),
        RemoteError(403, None),
        RemoteError(500, None),
    ]
    assert not any(is_unknown_endpoint(e) for e in known)
    assert unwrap_v1(wrap_v1({"a": 1})) == {"a": 1}
    for bad in ({"a": 1}, [200], [201, {}], [200, {}, {}], "x"):
        with pytest.raises(ValueError):
            unwrap_v1(bad)


async def _signed_template(
    b: Peer, a: Peer, room_id: str, user_id: str, membership: str, key: SigningKey | None = None
) -> tuple[str, dict[str, Any]]:
    """B asks A for a ``make_<membership>`` template and signs it (with ``key`` if
    given); ``(event_id, pdu)``."""
    query = {"ver": list(KNOWN_ROOM_VERSIONS)} if membership == "join" else None
    made = await b.hs.federation.client.get_json(
        a.name, f"{V1}/make_{membership}/{path_segment(room_id)}/{path_segment(user_id)}", query
    )
    rv = get_room_version(made["room_version"])
    pdu = dict(made["event"], origin_server_ts=int(time.time() * 1000))
    return _sign(pdu, b, rv.identifier, key)


def _sign(
    pdu: dict[str, Any], b: Peer, version: str, key: SigningKey | None = None
) -> tuple[str, dict[str, Any]]:
    rv = get_room_version(version)
    signed = sign_event(pdu, b.name, key or b.key, rv)
    return compute_event_id(signed, rv), signed


def _path(prefix: str, room_id: str, event_id: str) -> str:
    return f"{prefix}/{path_segment(room_id)}/{path_segment(event_id)}"


async def _refused(call: Awaitable[Any]) -> tuple[int, str | None]:
    with pytest.raises(RemoteError) as err:
        await call
    return err.value.status, err.value.errcode


async def test_inbound_v1_send_join_and_send_leave(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    alice, bob = f"@alice:{a.name}", f"@bob:{b.name}"
    await a.hs.accounts.create_account(alice, "pw")
    room_id = await a.hs.rooms.create_room(alice, preset="public_chat")
    client = b.hs.federation.client

    # A join signed with a key B never published: 403 on v1, 400 M_INVALID_PARAM on v2.
    forger = generate_signing_key(b.key.version)
    event_id, forged = await _signed_template(b, a, room_id, bob, "join", forger)
    v1_join, v2_join = f"{V1}/send_join", f"{V2}/send_join"
    refused = await _refused(client.put_json(a.name, _path(v1_join, room_id, event_id), forged))
    assert refused == (403, "M_FORBIDDEN")
    refused = await _refused(client.put_json(a.name, _path(v2_join, room_id, event_id), forged))
    assert refused == (400, "M_INVALID_PARAM")

    # Neither hashed nor signed, or with a made-up signature: a signature failure too.
    bare = {k: v for k, v in forged.items() if k not in ("hashes", "signatures")}
    fake = dict(bare, signatures={b.name: {b.key.key_id: "a" * 86}})
    for pdu in (bare, fake):
        path = _path(v1_join, room_id, compute_event_id(pdu, get_room_version("10")))
        assert await _refused(client.put_json(a.name, path, pdu)) == (403, "M_FORBIDDEN")

    # The join of a user of another server, sent by B: the same answers.
    _, template = await _signed_template(b, a, room_id, bob, "join")
    carol = "@carol:elsewhere.example"
    other_id, other = _sign(
        {k: v for k, v in template.items() if k not in ("signatures", "hashes")}
        | {"sender": carol, "state_key": carol},
        b,
        "10",
    )
    refused = await _refused(client.put_json(a.name, _path(v1_join, room_id, other_id), other))
    assert refused == (403, "M_FORBIDDEN")
    refused = await _refused(client.put_json(a.name, _path(v2_join, room_id, other_id), other))
    assert refused == (400, "M_INVALID_PARAM")

    # A well-signed join: [200, {state, auth_chain, ...}].
    event_id, join = await _signed_template(b, a, room_id, bob, "join")
    answer = await client.put_json(a.name, _path(v1_join, room_id, event_id), join)
    assert isinstance(answer, list) and answer[0] == 200
    assert {"state", "auth_chain"} <= set(answer[1])
    assert any(e["type"] == "m.room.create" for e in answer[1]["state"])
    assert await membership(a, room_id, bob) == "join"

    # And a leave through /v1/send_leave: [200, {}].
    event_id, leave = await _signed_template(b, a, room_id, bob, "leave")
    v1_leave = f"{V1}/send_leave"
    answer = await client.put_json(a.name, _path(v1_leave, room_id, event_id), leave)
    assert answer == [200, {}]
    assert await membership(a, room_id, bob) == "leave"


Put = Callable[..., Awaitable[Any]]


def _without_v2(peer: Peer, prefixes: tuple[str, ...], seen: list[str]) -> None:
    """Make ``peer``'s outbound client see a server without the v2 endpoints named
    (a bare 404, as old servers and SyTest answer); record the paths it sends."""
    real: Put = peer.hs.federation.client.put_json

    async def put_json(destination: str, path: str, content: Any, *args: Any, **kw: Any) -> Any:
        seen.append(path)
        if path.startswith(prefixes):
            raise RemoteError(404, None)
        return await real(destination, path, content, *args, **kw)

    peer.hs.federation.client.put_json = put_json  # type: ignore[method-assign]


async def test_outbound_falls_back_to_v1(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    alice, bob = f"@alice:{a.name}", f"@bob:{b.name}"
    await a.hs.accounts.create_account(alice, "pw")
    token = await login(b, "bob")
    seen_a: list[str] = []
    seen_b: list[str] = []
    _without_v2(a, (f"{V2}/invite",), seen_a)
    _without_v2(b, (f"{V2}/send_join", f"{V2}/send_leave"), seen_b)

    # Join: v2 send_join unknown, v1 used.
    public = await a.hs.rooms.create_room(alice, preset="public_chat")
    await b.hs.membership.join(public, bob, servers=[a.name])
    assert await membership(a, public, bob) == "join"
    assert [p.split("/")[3] for p in seen_b if "/send_join/" in p] == ["v2", "v1"]

    # Invite in a version 2 room: v2 invite unknown, the v1 form reaches B's user.
    room_id = await a.hs.rooms.create_room(alice, preset="private_chat", room_version="2")
    invite_id = await a.hs.membership.invite(room_id, alice, bob)
    stored = await a.hs.room_storage.events.get_by_id(invite_id)
    assert stored is not None and set(stored.event.pdu["signatures"]) == {a.name, b.name}
    assert [p.split("/")[3] for p in seen_a if "/invite/" in p] == ["v2", "v1"]
    await eventually(lambda: membership_is(b, room_id, bob, "invite"))
    status, sync = await call(b, "GET", "/_matrix/client/v3/sync", token)
    assert status == 200 and room_id in sync["rooms"]["invite"]

    # Rejecting it: v2 send_leave unknown, v1 used, and A has the leave in the room.
    status, _ = await call(
        b, "POST", f"/_matrix/client/v3/rooms/{path_segment(room_id)}/leave", token, {}
    )
    assert status == 200
    assert [p.split("/")[3] for p in seen_b if "/send_leave/" in p] == ["v2", "v1"]
    assert await membership(a, room_id, bob) == "leave"
    # B's /sync shows the room left, with the leave as its timeline (B is not in it).
    since = sync["next_batch"]
    status, sync = await call(b, "GET", f"/_matrix/client/v3/sync?since={since}", token)
    assert status == 200
    left = sync["rooms"]["leave"][room_id]["timeline"]["events"]
    assert [(e["sender"], e["content"]["membership"]) for e in left] == [(bob, "leave")]

    # A room v1 cannot carry: the inviter's client is told the version is unsupported.
    newer = await a.hs.rooms.create_room(alice, preset="private_chat", room_version="10")
    with pytest.raises(MatrixError) as err:
        await a.hs.membership.invite(newer, alice, bob)
    assert (err.value.status, err.value.errcode) == (400, "M_UNSUPPORTED_ROOM_VERSION")


async def _put_loose(a: Peer, b: Peer, path: str, body: Any) -> tuple[int, Any]:
    """``PUT`` from A to B of a body that is JSON but not canonical JSON (floats), which
    A's client refuses to send; signed as SyTest signs it."""
    request = request_json("PUT", path, a.name, b.name, body)
    sig = encode_base64(a.key.sign(encode_canonical_json(request, strict=False)))
    header = f'X-Matrix origin="{a.name}",destination="{b.name}",key="{a.key.key_id}",sig="{sig}"'
    headers = {"Authorization": header, "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as session,
        session.put(
            URL(b.base + path, encoded=True), data=orjson.dumps(body), headers=headers, ssl=False
        ) as resp,
    ):
        return resp.status, orjson.loads(await resp.read())


async def test_invite_json_checks(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    alice, bob = f"@alice:{a.name}", f"@bob:{b.name}"
    await a.hs.accounts.create_account(alice, "pw")
    await b.hs.accounts.create_account(bob, "pw")
    room_id = await a.hs.rooms.create_room(alice, preset="private_chat", room_version="10")
    client = a.hs.federation.client
    content = {"membership": "invite"}
    invite = await craft(a, a, room_id, alice, "m.room.member", content, state_key=bob)
    path = _path(f"{V2}/invite", room_id, invite.event_id)

    # A float (not canonical JSON in v6+ rooms): 400 M_BAD_JSON.
    floaty = dict(invite.pdu, content={**content, "bad_val": 1.1})
    status, body = await _put_loose(a, b, path, {"room_version": "10", "event": floaty})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    # Not signed by the sender's server: 400 M_INVALID_PARAM (invites-v2.yaml).
    forger = generate_signing_key(a.key.version)
    forged = await craft(a, a, room_id, alice, "m.room.member", content, state_key=bob, key=forger)
    body = {"room_version": "10", "event": forged.pdu}
    path = _path(f"{V2}/invite", room_id, forged.event_id)
    assert await _refused(client.put_json(b.name, path, body)) == (400, "M_INVALID_PARAM")
    assert await membership(b, room_id, bob) is None

    # B's answer carrying a float: the inviter's client gets 400 M_BAD_JSON, no invite.
    real: Put = client.put_json

    async def put_json(destination: str, path: str, content: Any, *args: Any, **kw: Any) -> Any:
        answer = await real(destination, path, content, *args, **kw)
        if "/invite/" in path:
            answer["event"]["content"]["bad_val"] = 1.1
        return answer

    client.put_json = put_json  # type: ignore[method-assign]
    with pytest.raises(MatrixError) as err:
        await a.hs.membership.invite(room_id, alice, bob)
    assert (err.value.status, err.value.errcode) == (400, "M_BAD_JSON")
    assert await membership(a, room_id, bob) is None

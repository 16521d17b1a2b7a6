"""Bad input from another server: each kind refused as the spec says, counted under its
own reason in ``ranvier_federation_rejected_total``, and the room's state unchanged.

Server-server-api "Request Authentication" (401 for a malformed or badly signed
``X-Matrix`` header), "Transactions" (50 PDUs / 100 EDUs; the body's ``origin``),
"Checks performed on receipt of a PDU" (a forged signature drops the PDU, a wrong
content hash redacts it, an auth failure rejects it), events of users whose server
is not in the room (rejected by the auth rules), PDUs for rooms this server is not in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from ranvier.core.signing import generate_signing_key
from ranvier.federation.client import RemoteError
from ranvier.federation.metrics import REASONS, FederationMetrics
from ranvier.federation.xmatrix import authorization_header
from tests.federation.helpers import craft, room_state, send_txn, shared_room, stored
from tests.federation.peers import Peer, start_peer


class Watch:
    """Snapshots of A's counters and of the room's state at A."""

    def __init__(self, peer: Peer, room_id: str) -> None:
        self.peer = peer
        self.room_id = room_id
        self.metrics: FederationMetrics = peer.hs.federation_metrics
        self.counts: dict[str, int] = {}
        self.state: dict[tuple[str, str], str] = {}

    async def snapshot(self) -> None:
        self.counts = {r: self.metrics.value(r) for r in REASONS}
        self.state = await self._state_ids()

    async def _state_ids(self) -> dict[tuple[str, str], str]:
        return {k: e.event_id for k, e in (await room_state(self.peer, self.room_id)).items()}

    async def expect(self, reason: str, n: int = 1) -> None:
        """Exactly ``reason`` went up by ``n`` since the snapshot, and the state did not
        change."""
        now = {r: self.metrics.value(r) for r in REASONS}
        changed = {r: now[r] - self.counts[r] for r in REASONS if now[r] != self.counts[r]}
        assert changed == {reason: n}
        assert await self._state_ids() == self.state
        await self.snapshot()


async def _raw_put(peer: Peer, path: str, body: Any, authorization: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    async with (
        aiohttp.ClientSession() as session,
        session.put(peer.base + path, data=orjson.dumps(body), headers=headers, ssl=False) as r,
    ):
        return r.status


async def test_bad_input_counted_and_nothing_changes(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a = await start_peer(tmp_path / "a", database=databases["a"])
    b = await start_peer(tmp_path / "b", database=databases["b"])
    c = await start_peer(tmp_path / "c", database=databases["c"])
    peers += [a, b, c]
    room_id, alice, bob = await shared_room(a, b)
    watch = Watch(a, room_id)
    await watch.snapshot()

    # A forged signature: dropped, not stored.
    forger = generate_signing_key(b.key.version)
    forged = await craft(a, b, room_id, bob, "m.room.message", {"body": "x"}, key=forger)
    answer = await send_txn(b, a, "m1", [forged.pdu])
    assert "signature" in answer["pdus"][forged.event_id]["error"]
    assert await stored(a, forged.event_id) is None
    await watch.expect("bad_signature")

    # A wrong content hash: stored redacted (the spec's answer), never as sent.
    honest = await craft(a, b, room_id, bob, "m.room.message", {"body": "original"})
    answer = await send_txn(b, a, "m2", [dict(honest.pdu, content={"body": "changed"})])
    kept = await stored(a, honest.event_id)
    assert kept is not None and kept.event.content == {}
    await watch.expect("bad_content_hash")

    # An event failing the auth rules (bob, power 0, takes power): rejected.
    pl = (await room_state(a, room_id))[("m.room.power_levels", "")]
    grab = dict(pl.content, users={**pl.content.get("users", {}), bob: 100})
    bad = await craft(a, b, room_id, bob, "m.room.power_levels", grab, state_key="")
    answer = await send_txn(b, a, "m3", [bad.pdu])
    assert answer["pdus"][bad.event_id] == {}  # processed: no "error"
    rejected = await stored(a, bad.event_id)
    assert rejected is not None and rejected.rejected
    await watch.expect("auth_failed")

    # An event from a server that is not in the room (carol@C never joined): rejected.
    carol = f"@carol:{c.name}"
    topic = await craft(a, c, room_id, carol, "m.room.topic", {"topic": "hijack"}, state_key="")
    answer = await send_txn(c, a, "m4", [topic.pdu])
    assert answer["pdus"][topic.event_id] == {}
    hijack = await stored(a, topic.event_id)
    assert hijack is not None and hijack.rejected
    await watch.expect("auth_failed")

    # A PDU for a room A is not in: dropped.
    stray = dict(honest.pdu, room_id="!elsewhere:nowhere.example")
    answer = await send_txn(b, a, "m5", [stray])
    assert list(answer["pdus"].values()) == [{"error": "this server is not in the room"}]
    await watch.expect("not_in_room")

    # A transaction claiming another origin than the server that signed it: 403.
    with pytest.raises(RemoteError) as err:
        await b.hs.federation.client.put_json(
            a.name, "/_matrix/federation/v1/send/m6", {"origin": c.name, "pdus": [honest.pdu]}
        )
    assert err.value.status == 403
    await watch.expect("origin_mismatch")

    # Oversized transactions: 400, nothing processed.
    extra = [await craft(a, b, room_id, bob, "m.room.message", {"body": str(i)}) for i in range(51)]
    with pytest.raises(RemoteError) as err:
        await send_txn(b, a, "m7", [e.pdu for e in extra])
    assert err.value.status == 400
    with pytest.raises(RemoteError) as err:
        await send_txn(b, a, "m8", [], edus=[{"edu_type": "m.typing", "content": {}}] * 101)
    assert err.value.status == 400
    await watch.expect("oversized_transaction", 2)
    assert [e for e in extra if await stored(a, e.event_id) is not None] == []

    # Malformed X-Matrix headers, a missing one, and a well-formed one signed wrongly.
    path = "/_matrix/federation/v1/send/m9"
    body = {"origin": b.name, "pdus": []}
    for header in ("X-Matrix", "X-Matrix origin=", "Bearer abc", 'X-Matrix origin="x",key="y"'):
        assert await _raw_put(a, path, body, header) == 401
    await watch.expect("malformed_xmatrix", 4)
    assert await _raw_put(a, path, body, None) == 401
    await watch.expect("missing_auth")
    wrong = authorization_header(forger, b.name, a.name, "PUT", path, body)
    assert await _raw_put(a, path, body, wrong) == 401
    await watch.expect("bad_request_signature")
    for_c = authorization_header(b.key, b.name, c.name, "PUT", path, body)
    assert await _raw_put(a, path, body, for_c) == 401
    await watch.expect("wrong_destination")

    # The counters are exported in the server's registry (served at /metrics).
    text = a.hs.metrics.render().decode()
    assert 'ranvier_federation_rejected_total{reason="auth_failed"} 2' in text
    assert 'ranvier_federation_rejected_total{reason="bad_signature"} 1' in text
    assert 'ranvier_federation_inbound_pdus_total{outcome="rejected"} 2' in text
    del alice

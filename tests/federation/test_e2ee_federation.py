"""End-to-end encryption between two real ranvier servers on loopback (on SQLite and on
PostgreSQL): alice on A queries and claims the keys of bob on B over federation, the
answer's signatures verified; send-to-device both ways reaches the other server's
sync; bob's device list and cross-signing changes reach A as EDUs, show in alice's
sync, and let A answer later queries from its copy; an unreachable server is reported
in ``failures``."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests.api.e2ee_helpers import CrossSigningKeys, DeviceCrypto, sign, verify
from tests.federation.helpers import call, eventually, login, start_two
from tests.federation.peers import Peer

V3 = "/_matrix/client/v3"


async def whoami(peer: Peer, token: str) -> tuple[str, str]:
    status, me = await call(peer, "GET", f"{V3}/account/whoami", token)
    assert status == 200, me
    return str(me["user_id"]), str(me["device_id"])


async def sync(peer: Peer, token: str, since: str | None = None) -> Any:
    query = {"timeout": "0"} if since is None else {"since": since, "timeout": "0"}
    status, body = await call(peer, "GET", f"{V3}/sync?{urlencode(query)}", token)
    assert status == 200, body
    return body


async def test_keys_to_device_and_device_lists_across_servers(
    tmp_path: Path, peers: list[Peer], databases: Mapping[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    a_tok, b_tok = await login(a, "alice"), await login(b, "bob")
    alice, a_dev_id = await whoami(a, a_tok)
    bob, b_dev_id = await whoami(b, b_tok)
    room_id = await a.hs.rooms.create_room(alice, preset="public_chat", room_version="10")
    await b.hs.membership.join(room_id, bob, servers=[a.name])
    a_since = (await sync(a, a_tok))["next_batch"]

    # bob uploads keys on B.
    b_dev = DeviceCrypto(bob, b_dev_id)
    status, out = await call(
        b,
        "POST",
        f"{V3}/keys/upload",
        b_tok,
        {"device_keys": b_dev.device_keys(), "one_time_keys": b_dev.one_time_keys(2)},
    )
    assert status == 200 and out["one_time_key_counts"] == {"signed_curve25519": 2}, out

    # alice's sync on A hears of it (m.device_list_update), and A resynchronises.
    async def alice_sees_change() -> bool:
        nonlocal a_since
        body = await sync(a, a_tok, a_since)
        a_since = body["next_batch"]
        return bob in body["device_lists"]["changed"]

    await eventually(alice_sees_change)

    # alice queries bob's keys through A.
    status, q = await call(a, "POST", f"{V3}/keys/query", a_tok, {"device_keys": {bob: []}})
    assert status == 200, q
    got = q["device_keys"][bob][b_dev_id]
    assert verify(got, bob, f"ed25519:{b_dev_id}", b_dev.ed25519_public)
    assert q["failures"] == {}

    # ... and claims one of his one-time keys, signed by his device.
    status, c = await call(
        a,
        "POST",
        f"{V3}/keys/claim",
        a_tok,
        {"one_time_keys": {bob: {b_dev_id: "signed_curve25519"}}, "timeout": 5000},
    )
    assert status == 200 and c["failures"] == {}, c
    (key,) = c["one_time_keys"][bob][b_dev_id].values()
    assert verify(key, bob, f"ed25519:{b_dev_id}", b_dev.ed25519_public)
    status, out = await call(b, "POST", f"{V3}/keys/upload", b_tok, {})
    assert out["one_time_key_counts"] == {"signed_curve25519": 1}

    # To-device: bob on B -> alice's device on A, and back.
    status, out = await call(
        b,
        "PUT",
        f"{V3}/sendToDevice/m.room_key_request/txn1",
        b_tok,
        {"messages": {alice: {a_dev_id: {"hello": "alice"}}}},
    )
    assert status == 200, out
    got_events: list[Any] = []

    async def alice_got_message() -> bool:
        nonlocal a_since
        body = await sync(a, a_tok, a_since)
        a_since = body["next_batch"]
        got_events.extend(body["to_device"]["events"])
        return bool(got_events)

    await eventually(alice_got_message)
    assert got_events == [
        {"sender": bob, "type": "m.room_key_request", "content": {"hello": "alice"}}
    ]
    b_since = (await sync(b, b_tok))["next_batch"]
    status, out = await call(
        a,
        "PUT",
        f"{V3}/sendToDevice/m.dummy/txn1",
        a_tok,
        {"messages": {bob: {"*": {"hello": "bob"}}}},
    )
    assert status == 200, out
    bob_events: list[Any] = []

    async def bob_got_message() -> bool:
        nonlocal b_since
        body = await sync(b, b_tok, b_since)
        b_since = body["next_batch"]
        bob_events.extend(body["to_device"]["events"])
        return bool(bob_events)

    await eventually(bob_got_message)
    assert bob_events[0]["content"] == {"hello": "bob"} and bob_events[0]["sender"] == alice

    # A new device of bob reaches alice's sync; A then answers from its copy.
    edus = a.hs.federation_edus
    assert edus is not None
    await eventually(lambda: _true(edus.device_lists.resyncs >= 1))
    second = await login_again(b, "bob")
    second_dev = DeviceCrypto(bob, second[1])
    status, out = await call(
        b, "POST", f"{V3}/keys/upload", second[0], {"device_keys": second_dev.device_keys()}
    )
    assert status == 200

    async def alice_sees_second() -> bool:
        _, q = await call(a, "POST", f"{V3}/keys/query", a_tok, {"device_keys": {bob: []}})
        return second[1] in q["device_keys"].get(bob, {})

    await eventually(alice_sees_second)
    remote = a.hs.e2ee.keys.remote
    assert remote is not None
    hits = remote.cache_hits
    status, q = await call(a, "POST", f"{V3}/keys/query", a_tok, {"device_keys": {bob: []}})
    assert remote.cache_hits == hits + 1
    assert set(q["device_keys"][bob]) == {b_dev_id, second[1]}

    # Cross-signing keys of bob reach A (m.signing_key_update).
    cross = CrossSigningKeys(bob)
    status, out = await call(
        b, "POST", f"{V3}/keys/device_signing/upload", b_tok, cross.upload_body()
    )
    assert status == 200, out

    async def alice_sees_master() -> bool:
        _, q = await call(a, "POST", f"{V3}/keys/query", a_tok, {"device_keys": {bob: []}})
        master = q.get("master_keys", {}).get(bob)
        return master is not None and master["keys"] == cross.key("master")["keys"]

    await eventually(alice_sees_master)

    # alice (cross-signing keys on A) signs bob's master key with her user-signing key:
    # kept on A, shown to her only.
    mine = CrossSigningKeys(alice)
    status, out = await call(
        a, "POST", f"{V3}/keys/device_signing/upload", a_tok, mine.upload_body()
    )
    assert status == 200, out
    bob_master = cross.key("master")
    usk_id = "ed25519:" + mine.public(mine.user_signing)
    sign(bob_master, alice, usk_id, mine.user_signing)
    status, out = await call(
        a,
        "POST",
        f"{V3}/keys/signatures/upload",
        a_tok,
        {bob: {cross.public(cross.master): bob_master}},
    )
    assert status == 200 and out["failures"] == {}, out
    status, q = await call(a, "POST", f"{V3}/keys/query", a_tok, {"device_keys": {bob: []}})
    assert verify(q["master_keys"][bob], alice, usk_id, mine.public(mine.user_signing))

    # An unreachable server is a failure, not an error.
    status, q = await call(
        a,
        "POST",
        f"{V3}/keys/query",
        a_tok,
        {"device_keys": {"@x:127.0.0.1:1": []}, "timeout": 2000},
    )
    assert status == 200 and "127.0.0.1:1" in q["failures"], q
    status, c = await call(
        a,
        "POST",
        f"{V3}/keys/claim",
        a_tok,
        {"one_time_keys": {"@x:127.0.0.1:1": {"D": "signed_curve25519"}}, "timeout": 2000},
    )
    assert status == 200 and "127.0.0.1:1" in c["failures"], c


async def _true(value: bool) -> bool:
    return value


async def login_again(peer: Peer, localpart: str) -> tuple[str, str]:
    """A second login of an existing user: ``(access token, device id)``."""
    status, body = await call(
        peer,
        "POST",
        f"{V3}/login",
        body={
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": localpart},
            "password": "pw",
        },
    )
    assert status == 200, body
    return str(body["access_token"]), str(body["device_id"])


async def test_remote_list_goes_stale_when_no_room_is_shared(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    a_tok, b_tok = await login(a, "alice"), await login(b, "bob")
    alice, _ = await whoami(a, a_tok)
    bob, b_dev_id = await whoami(b, b_tok)
    room_id = await a.hs.rooms.create_room(alice, preset="public_chat", room_version="10")
    await b.hs.membership.join(room_id, bob, servers=[a.name])
    dev = DeviceCrypto(bob, b_dev_id)
    status, _ = await call(
        b, "POST", f"{V3}/keys/upload", b_tok, {"device_keys": dev.device_keys()}
    )
    assert status == 200
    edus = a.hs.federation_edus
    assert edus is not None
    store = edus.device_lists.store

    async def tracked() -> bool:
        state = await store.stream_state(bob)
        return state is not None and not state[1] and bool(await store.devices(bob))

    await eventually(tracked)
    # bob leaves: A no longer hears of his devices, and forgets where his list stands.
    await b.hs.membership.leave(room_id, bob)
    await eventually(lambda: _stale(store, bob))
    # While he is away he adds a device; when he is back, a query fetches the list.
    second = await login_again(b, "bob")
    await call(
        b,
        "POST",
        f"{V3}/keys/upload",
        second[0],
        {"device_keys": DeviceCrypto(bob, second[1]).device_keys()},
    )
    await b.hs.membership.join(room_id, bob, servers=[a.name])

    async def both_devices() -> bool:
        _, q = await call(a, "POST", f"{V3}/keys/query", a_tok, {"device_keys": {bob: []}})
        return set(q["device_keys"].get(bob, {})) == {b_dev_id, second[1]}

    await eventually(both_devices)


async def _stale(store: Any, user_id: str) -> bool:
    return await store.stream_state(user_id) is None


async def test_concurrent_resyncs_share_one_request(
    tmp_path: Path, peers: list[Peer], databases: Mapping[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    bob = f"@bob:{b.name}"
    await b.hs.accounts.create_account(bob, "pw")
    edus = a.hs.federation_edus
    assert edus is not None
    lists = edus.device_lists
    before = lists.resyncs
    results = await asyncio.gather(*(lists.resync_shared(b.name, bob) for _ in range(3)))
    assert results == [True, True, True] and lists.resyncs == before + 1
    assert await lists.resync_shared(b.name, bob) and lists.resyncs == before + 2

"""The end-to-end encryption stores on SQLite and PostgreSQL: device keys, one-time keys
claimed in upload order and once only (concurrent claims), fallback keys, cross-signing
keys and signatures with their visibility, the device list stream."""

from __future__ import annotations

import asyncio

import pytest

from ranvier.db import Database
from ranvier.e2ee.cross_signing_store import CrossSigningStore, with_signatures
from ranvier.e2ee.device_list_stream import DeviceListStream
from ranvier.e2ee.key_store import E2eKeyStore, KeyConflict, split_key_id


async def test_device_keys(database: Database) -> None:
    store = E2eKeyStore(database)
    keys = {"user_id": "@a:x", "device_id": "D", "keys": {"ed25519:D": "k"}}
    assert await store.set_device_keys("@a:x", "D", keys)
    assert not await store.set_device_keys("@a:x", "D", dict(keys))
    assert await store.set_device_keys("@a:x", "D", {**keys, "keys": {"ed25519:D": "k2"}})
    assert (await store.device_keys("@a:x"))["D"]["keys"] == {"ed25519:D": "k2"}
    assert await store.get_device_keys("@a:x", "E") is None
    await store.delete_device("@a:x", "D")
    assert await store.device_keys("@a:x") == {}


async def test_one_time_and_fallback_keys(database: Database) -> None:
    store = E2eKeyStore(database)
    await store.add_one_time_keys("@a:x", "D", {"alg:b": {"key": "2"}, "alg:a": {"key": "1"}})
    await store.add_one_time_keys("@a:x", "D", {"alg:0": "0", "other:z": "z"})
    await store.add_one_time_keys("@a:x", "D", {"alg:a": {"key": "1"}})  # same again: fine
    with pytest.raises(KeyConflict):
        await store.add_one_time_keys("@a:x", "D", {"alg:c": "c", "alg:a": {"key": "changed"}})
    with pytest.raises(KeyConflict):
        await store.add_one_time_keys("@a:x", "D", {"nocolon": "c"})
    assert await store.one_time_key_counts("@a:x", "D") == {"alg": 3, "other": 1}
    await store.set_fallback_keys("@a:x", "D", {"alg:f1": {"key": "f1"}})
    assert await store.unused_fallback_key_types("@a:x", "D") == ["alg"]
    got = []
    for _ in range(5):
        out = await store.claim([("@a:x", "D", "alg"), ("@a:x", "NONE", "alg")])
        assert set(out["@a:x"]) == {"D"}
        got.extend(out["@a:x"]["D"])
    # Upload order (a and b came in one upload, sorted), then the fallback key, reused.
    assert got == ["alg:a", "alg:b", "alg:0", "alg:f1", "alg:f1"]
    assert await store.unused_fallback_key_types("@a:x", "D") == []
    # Re-uploading the same fallback key keeps it used; a new one is unused.
    await store.set_fallback_keys("@a:x", "D", {"alg:f1": {"key": "f1"}})
    assert await store.unused_fallback_key_types("@a:x", "D") == []
    await store.set_fallback_keys("@a:x", "D", {"alg:f2": {"key": "f2"}})
    assert await store.unused_fallback_key_types("@a:x", "D") == ["alg"]
    assert split_key_id("a:b:c") == ("a", "b:c") and split_key_id(":x") is None


async def test_concurrent_claims_get_distinct_keys(database: Database) -> None:
    store = E2eKeyStore(database)
    await store.add_one_time_keys("@a:x", "D", {f"alg:{i:02d}": str(i) for i in range(20)})
    results = await asyncio.gather(*(store.claim([("@a:x", "D", "alg")]) for _ in range(20)))
    ids = [next(iter(r["@a:x"]["D"])) for r in results]
    assert len(set(ids)) == 20
    assert await store.one_time_key_counts("@a:x", "D") == {}


async def test_cross_signing_keys_and_signatures(database: Database) -> None:
    store = CrossSigningStore(database)
    master = {"user_id": "@a:x", "usage": ["master"], "keys": {"ed25519:M": "M"}}
    await store.set_keys("@a:x", {"master": master})
    assert await store.keys("@a:x") == {"master": master}
    await store.add_signatures(
        [
            ("@a:x", "M", "@a:x", "ed25519:D", "sig-self"),
            ("@a:x", "M", "@b:x", "ed25519:U", "sig-b"),
            ("@a:x", "D", "@a:x", "ed25519:S", "sig-dev"),
        ]
    )
    assert await store.signatures("@a:x", None) == {
        "M": {"@a:x": {"ed25519:D": "sig-self"}},
        "D": {"@a:x": {"ed25519:S": "sig-dev"}},
    }
    seen_by_b = await store.signatures("@a:x", "@b:x")
    assert seen_by_b["M"] == {"@a:x": {"ed25519:D": "sig-self"}, "@b:x": {"ed25519:U": "sig-b"}}
    assert "@b:x" not in (await store.signatures("@a:x", "@c:x"))["M"]
    merged = with_signatures(master, seen_by_b["M"])
    assert merged["signatures"]["@b:x"] == {"ed25519:U": "sig-b"} and "signatures" not in master
    # A new master key drops the signatures on the old one.
    await store.set_keys("@a:x", {"master": {**master, "keys": {"ed25519:N": "N"}}})
    assert "M" not in await store.signatures("@a:x", "@b:x")
    await store.delete_device("@a:x", "D")
    assert await store.signatures("@a:x", None) == {}


async def test_device_list_stream(database: Database) -> None:
    stream = DeviceListStream(database)
    heard: list[tuple[list[tuple[str, str]], int]] = []

    async def listener(pairs: list[tuple[str, str]], position: int) -> None:
        heard.append((pairs, position))

    stream.listeners.append(listener)
    start = await stream.current_position()
    p1 = await stream.record([("@a:x", "D1"), ("@a:x", "D1")])
    p2 = await stream.record([("@b:y", ""), ("@a:x", "D2")])
    assert await stream.record([]) is None
    assert p1 is not None and p2 is not None and start < p1 < p2
    assert heard == [([("@a:x", "D1")], p1), ([("@a:x", "D2"), ("@b:y", "")], p2)]
    assert await stream.current_position() == p2
    assert await stream.changed_users(start, p1) == {"@a:x"}
    assert await stream.changed_users(p1, p2) == {"@a:x", "@b:y"}
    assert await stream.previous_id("@a:x", p2) == p1
    assert await stream.previous_id("@b:y", p2) is None
    assert await stream.latest_id("@a:x") == p2 and await stream.latest_id("@z:x") == 0

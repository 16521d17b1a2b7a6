"""State snapshots: round trips, delta chains, rebasing, block deduplication and caching."""

from __future__ import annotations

import random

from ranvier.db import Database
from ranvier.rooms.state_store import (
    EMPTY,
    MIN_CHAIN,
    Snapshot,
    StateStore,
    bucket_count,
    pack_entries,
    split_blocks,
    unpack_entries,
)
from tests.rooms.conftest import count


def test_pack_round_trip_sorted() -> None:
    entries = [((3, 1), 10), ((1, 2), 2**40), ((1, 1), 7)]
    data = pack_entries(entries)
    assert len(data) == 16 * 3
    assert unpack_entries(data) == sorted(entries)


def test_split_blocks_cover_state_once() -> None:
    state = {(t, s): t * 1000 + s for t in range(1, 4) for s in range(1, 200)}
    blocks = split_blocks(state)
    assert len(blocks) == bucket_count(len(state)) == 16
    merged = [e for b in blocks for e in unpack_entries(b)]
    assert dict(merged) == state and len(merged) == len(state)


async def write(db: Database, store: StateStore, parent: Snapshot, changes: dict) -> Snapshot:  # type: ignore[type-arg]
    async with db.transaction() as conn:
        snap = await store.write(conn, 1, parent, changes)
    store.remember(snap)
    return snap


async def test_round_trip_through_fresh_cache(database: Database) -> None:
    store = StateStore(database)
    s1 = await write(database, store, EMPTY, {(1, 1): 100, (2, 1): 101})
    s2 = await write(database, store, s1, {(3, 5): 102})
    s3 = await write(database, store, s2, {(1, 1): 103, (2, 1): 0})
    fresh = StateStore(database)
    assert dict((await fresh.load(s1.nid)).state) == {(1, 1): 100, (2, 1): 101}
    assert dict((await fresh.load(s3.nid)).state) == {(1, 1): 103, (3, 5): 102}
    assert dict((await fresh.load(s2.nid)).state) == {(1, 1): 100, (2, 1): 101, (3, 5): 102}
    assert (await fresh.load(0)).state == {}
    # s2 and s3 are deltas on s1, the base
    assert s1.chain_entries == 0 and s2.chain_entries == 1 and s3.chain_entries == 3


async def test_random_histories_match_a_dict_model(database: Database) -> None:
    rng = random.Random(4)
    store = StateStore(database)
    model: dict[int, dict[tuple[int, int], int]] = {}
    snaps = [EMPTY]
    next_event = 1
    for _ in range(300):
        parent = rng.choice(snaps[-5:])  # mostly linear, some forks
        changes = {}
        for _ in range(rng.choice([1, 1, 1, 2, 5])):
            changes[(rng.randint(1, 4), rng.randint(1, 60))] = next_event
            next_event += 1
        if parent.state and rng.random() < 0.1:
            changes[rng.choice(list(parent.state))] = 0
        snap = await write(database, store, parent, changes)
        expected = dict(model.get(parent.nid, {}))
        for k, v in changes.items():
            if v:
                expected[k] = v
            else:
                expected.pop(k, None)
        model[snap.nid] = expected
        snaps.append(snap)
    fresh = StateStore(database, cache_size=16)
    for nid in rng.sample(list(model), 60):
        assert dict((await fresh.load(nid)).state) == model[nid]
    bases = await database.fetchone("SELECT COUNT(*) FROM state_snapshots WHERE parent_nid IS NULL")
    assert bases is not None and 1 <= bases[0] < 40


async def test_chain_is_bounded_then_rebased(database: Database) -> None:
    store = StateStore(database)
    snap = await write(database, store, EMPTY, {(1, i): i for i in range(1, 11)})
    for i in range(MIN_CHAIN + 5):
        snap = await write(database, store, snap, {(1, 1 + i % 3): 1000 + i})  # size stays 10
        assert snap.chain_entries <= max(MIN_CHAIN, snap.state_size)
    bases = await database.fetchall(
        "SELECT snapshot_nid FROM state_snapshots WHERE parent_nid IS NULL ORDER BY snapshot_nid"
    )
    assert len(bases) == 2  # the first, and one rebase when the chain hit MIN_CHAIN
    assert dict((await StateStore(database).load(snap.nid)).state) == dict(snap.state)


async def test_identical_bases_share_blocks(database: Database) -> None:
    store = StateStore(database)
    state = {(1, i): i for i in range(1, 300)}
    async with database.transaction() as conn:
        a = await store.write_base(conn, 1, state)
    blocks_after_first = await count(database, "state_blocks")
    async with database.transaction() as conn:
        b = await store.write_base(conn, 1, state)
        # changing one entry rewrites one block only
        c = await store.write_base(conn, 1, {**state, (1, 5): 999})
    assert a.nid != b.nid
    assert await store.block_nids(a.nid) == await store.block_nids(b.nid)
    assert blocks_after_first == bucket_count(len(state))
    assert await count(database, "state_blocks") == blocks_after_first + 1
    shared = set(await store.block_nids(a.nid)) & set(await store.block_nids(c.nid))
    assert len(shared) == blocks_after_first - 1


async def test_load_uses_cached_ancestor(database: Database) -> None:
    store = StateStore(database)
    s = await write(database, store, EMPTY, {(1, 1): 1})
    for i in range(2, 10):
        s = await write(database, store, s, {(1, i): i})
    store.cache.discard(s.nid)
    loaded = await store.load(s.nid)
    assert dict(loaded.state) == {(1, i): i for i in range(1, 10)}
    assert store.cache.get(s.nid) is loaded

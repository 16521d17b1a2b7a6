"""Room state snapshots: bounded delta chains over deduplicated base blocks.

Spec context: the state of a room "at" an event (server-server-api "Room State
Resolution", "Checks performed on receipt of a PDU": the state before an event) is
needed for every event, but it changes only when a state event arrives. Storing a full
copy per event grows with events x room size (Synapse's ``state_groups_state``);
this module makes a new state event cost O(1) rows amortised.

Theory of operation
-------------------
A *state map* is ``{(type_nid, state_key_nid): event_nid}`` (NIDs from
:mod:`ranvier.rooms.nids`). Packed on disk, an entry is 16 bytes
(``<IIq``: two 32-bit key NIDs and a 64-bit event NID), entries sorted by key.

A *snapshot* (one ``state_snapshots`` row, named by ``snapshot_nid``) is either

* a **base**: the whole map, split into *blocks* by a hash of the key into a power
  of two of buckets (about :data:`BLOCK_TARGET` entries each). Blocks live in
  ``state_blocks`` keyed by a hash of their bytes, so identical blocks are stored
  once, whichever snapshot uses them; or
* a **delta**: a parent snapshot plus the few entries that changed (event NID 0
  would mean "removed", which state resolution may need).

Each row records ``chain_entries`` (the delta entries between it and its base) and
``state_size``. A new snapshot is written as a delta while the chain stays within
``max(MIN_CHAIN, state_size)`` entries, else as a fresh base. Hence:

* storage: a state event adds one small delta row; every ~``state_size`` state
  events one base (``state_size`` entries, mostly deduplicated blocks) is written,
  so the amortised cost per state event is O(1) entries;
* loading: one recursive query fetches the chain (at most ``state_size`` deltas)
  and one fetches the base blocks, so the state at any snapshot loads in
  O(state size); a chain stops early at the first snapshot already in the cache;
* sharing: events that do not change state (messages) point at the same snapshot
  as the event before them, so 10,000 messages in a room cost no state rows.

Loaded snapshots are kept in an LRU cache (immutable maps; a child is derived from
a cached parent by copying and applying its delta). :meth:`StateStore.write` runs
inside the caller's event transaction; the caller calls :meth:`StateStore.remember`
only after the commit, so the cache never holds rolled-back state.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ranvier.db import Connection, Database
from ranvier.rooms.lru import LruCache

NidKey = tuple[int, int]
"""``(type_nid, state_key_nid)``."""
StateMap = Mapping[NidKey, int]
"""``(type_nid, state_key_nid) -> event_nid``; never mutated once built."""

BLOCK_TARGET = 64
"""Aimed-for entries per base block."""
MIN_CHAIN = 64
"""A delta chain may always grow to this many entries, however small the state."""

_ENTRY = struct.Struct("<IIq")
_NID = struct.Struct("<q")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A loaded snapshot: its id, full state map and chain bookkeeping."""

    nid: int
    state: StateMap
    chain_entries: int
    state_size: int


EMPTY = Snapshot(0, {}, 0, 0)
"""The state before the create event (snapshot id 0 is never stored)."""


def pack_entries(entries: Iterable[tuple[NidKey, int]]) -> bytes:
    """Pack ``((type_nid, state_key_nid), event_nid)`` pairs sorted by key."""
    return b"".join(_ENTRY.pack(t, s, e) for (t, s), e in sorted(entries))


def unpack_entries(data: bytes) -> list[tuple[NidKey, int]]:
    """The inverse of :func:`pack_entries`."""
    return [((t, s), e) for t, s, e in _ENTRY.iter_unpack(data)]


def bucket_count(size: int) -> int:
    """The number of blocks a base of ``size`` entries is split into (a power of two)."""
    n = 1
    while n * BLOCK_TARGET < size:
        n *= 2
    return n


def _bucket(key: NidKey, buckets: int) -> int:
    # A cheap integer mix; stable across processes (unlike hash() of a tuple).
    h = (key[0] * 0x9E3779B1 ^ key[1] * 0x85EBCA77) & 0xFFFFFFFF
    h ^= h >> 15
    return h % buckets


def split_blocks(state: StateMap) -> list[bytes]:
    """The packed blocks of a base snapshot of ``state``, in bucket order."""
    buckets = bucket_count(len(state))
    parts: list[list[tuple[NidKey, int]]] = [[] for _ in range(buckets)]
    for key, event_nid in state.items():
        parts[_bucket(key, buckets)].append((key, event_nid))
    return [pack_entries(p) for p in parts if p]


def _apply(state: dict[NidKey, int], delta: bytes) -> None:
    for key, event_nid in unpack_entries(delta):
        if event_nid == 0:
            state.pop(key, None)
        else:
            state[key] = event_nid


def _placeholders(n: int, start: int = 1) -> str:
    return ", ".join(f"${i}" for i in range(start, start + n))


_CHAIN_SQL = (
    "WITH RECURSIVE chain(snapshot_nid, parent_nid, blocks, delta, chain_entries,"
    " state_size, n) AS ("
    " SELECT snapshot_nid, parent_nid, blocks, delta, chain_entries, state_size, 0"
    " FROM state_snapshots WHERE snapshot_nid = $1"
    " UNION ALL"
    " SELECT s.snapshot_nid, s.parent_nid, s.blocks, s.delta, s.chain_entries,"
    " s.state_size, c.n + 1"
    " FROM state_snapshots s JOIN chain c ON s.snapshot_nid = c.parent_nid)"
    " SELECT snapshot_nid, parent_nid, blocks, delta, chain_entries, state_size"
    " FROM chain ORDER BY n"
)


class StateStore:
    """Reads and writes snapshots; see the module docstring."""

    def __init__(self, db: Database, cache_size: int = 1024) -> None:
        self.db = db
        self.cache: LruCache[int, Snapshot] = LruCache(cache_size)

    async def load(self, snapshot_nid: int) -> Snapshot:
        """The snapshot ``snapshot_nid`` (0 is the empty state). Raises KeyError if unknown."""
        if snapshot_nid == 0:
            return EMPTY
        cached = self.cache.get(snapshot_nid)
        if cached is not None:
            return cached
        rows = await self.db.fetchall(_CHAIN_SQL, snapshot_nid)
        if not rows:
            raise KeyError(snapshot_nid)
        # rows[0] is the snapshot asked for, rows[-1] its base. Start from the nearest
        # cached ancestor if there is one, else from the base's blocks.
        start = len(rows) - 1
        state: dict[NidKey, int] | None = None
        for i in range(1, len(rows)):
            ancestor = self.cache.get(int(rows[i][0]))
            if ancestor is not None:
                state = dict(ancestor.state)
                start = i - 1
                break
        if state is None:
            base = rows[-1]
            if base[2] is None:
                raise KeyError(f"snapshot chain of {snapshot_nid} has no base")
            state = await self._load_blocks(bytes(base[2]))
            start = len(rows) - 2
            if base[3] is not None:
                _apply(state, bytes(base[3]))
        for i in range(start, -1, -1):
            if rows[i][3] is not None:
                _apply(state, bytes(rows[i][3]))
        top = rows[0]
        snap = Snapshot(snapshot_nid, state, int(top[4]), int(top[5]))
        self.cache.put(snapshot_nid, snap)
        return snap

    async def _load_blocks(self, packed_nids: bytes) -> dict[NidKey, int]:
        nids = [n for (n,) in _NID.iter_unpack(packed_nids)]
        state: dict[NidKey, int] = {}
        if not nids:
            return state
        rows = await self.db.fetchall(
            f"SELECT entries FROM state_blocks WHERE block_nid IN ({_placeholders(len(nids))})",
            *nids,
        )
        if len(rows) != len(nids):
            raise KeyError("missing state blocks")
        for (entries,) in rows:
            state.update(unpack_entries(bytes(entries)))
        return state

    async def write(
        self,
        conn: Connection,
        room_nid: int,
        parent: Snapshot,
        changes: Mapping[NidKey, int],
    ) -> Snapshot:
        """Write the snapshot ``parent`` + ``changes`` inside the transaction ``conn``.

        Returns the new snapshot; call :meth:`remember` with it after the commit.
        ``parent`` may be :data:`EMPTY`. An event NID of 0 in ``changes`` removes the key.
        """
        state = dict(parent.state)
        for key, event_nid in changes.items():
            if event_nid == 0:
                state.pop(key, None)
            else:
                state[key] = event_nid
        chain = parent.chain_entries + len(changes)
        if parent.nid != 0 and chain <= max(MIN_CHAIN, parent.state_size):
            row = await conn.fetchone(
                "INSERT INTO state_snapshots (room_nid, parent_nid, delta, chain_entries,"
                " state_size) VALUES ($1, $2, $3, $4, $5) RETURNING snapshot_nid",
                room_nid,
                parent.nid,
                pack_entries(changes.items()),
                chain,
                len(state),
            )
            assert row is not None
            return Snapshot(int(row[0]), state, chain, len(state))
        return await self.write_base(conn, room_nid, state)

    async def write_base(
        self, conn: Connection, room_nid: int, state: Mapping[NidKey, int]
    ) -> Snapshot:
        """Write ``state`` as a base snapshot made of deduplicated blocks."""
        block_nids: list[int] = []
        for block in split_blocks(state):
            digest = hashlib.blake2b(block, digest_size=16).digest()
            await conn.execute(
                "INSERT INTO state_blocks (block_hash, entries) VALUES ($1, $2)"
                " ON CONFLICT (block_hash) DO NOTHING",
                digest,
                block,
            )
            row = await conn.fetchone(
                "SELECT block_nid FROM state_blocks WHERE block_hash = $1", digest
            )
            assert row is not None
            block_nids.append(int(row[0]))
        row = await conn.fetchone(
            "INSERT INTO state_snapshots (room_nid, parent_nid, blocks, chain_entries,"
            " state_size) VALUES ($1, NULL, $2, 0, $3) RETURNING snapshot_nid",
            room_nid,
            b"".join(_NID.pack(n) for n in block_nids),
            len(state),
        )
        assert row is not None
        return Snapshot(int(row[0]), dict(state), 0, len(state))

    def remember(self, snapshot: Snapshot) -> None:
        """Cache a snapshot written by a committed transaction."""
        if snapshot.nid != 0:
            self.cache.put(snapshot.nid, snapshot)

    async def block_nids(self, snapshot_nid: int) -> list[int]:
        """The blocks of the base under ``snapshot_nid`` (for tests and diagnostics)."""
        rows = await self.db.fetchall(_CHAIN_SQL, snapshot_nid)
        if not rows or rows[-1][2] is None:
            return []
        return [n for (n,) in _NID.iter_unpack(bytes(rows[-1][2]))]

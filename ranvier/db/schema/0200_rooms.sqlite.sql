-- Rooms, events and state storage. Owned by ranvier.rooms (see ranvier/rooms/state_store.py
-- for the snapshot design). The PostgreSQL file has the same tables and columns.

CREATE TABLE rooms (
    room_nid INTEGER PRIMARY KEY,
    room_id TEXT NOT NULL UNIQUE,
    room_version TEXT NOT NULL,
    creator TEXT NOT NULL,
    created_ts BIGINT NOT NULL,
    -- published in the room directory (createRoom's visibility)
    published BOOLEAN NOT NULL DEFAULT FALSE,
    -- the snapshot of the room's current state (0: no state yet)
    current_snapshot_nid BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE event_type_nids (
    type_nid INTEGER PRIMARY KEY,
    event_type TEXT NOT NULL UNIQUE
);

CREATE TABLE state_key_nids (
    state_key_nid INTEGER PRIMARY KEY,
    state_key TEXT NOT NULL UNIQUE
);

-- Deduplicated pieces of full snapshots: packed sorted (type_nid, state_key_nid, event_nid).
CREATE TABLE state_blocks (
    block_nid INTEGER PRIMARY KEY,
    block_hash BLOB NOT NULL UNIQUE,
    entries BLOB NOT NULL
);

-- A base snapshot lists blocks; a delta snapshot names its parent and the entries it changes.
CREATE TABLE state_snapshots (
    snapshot_nid INTEGER PRIMARY KEY,
    room_nid BIGINT NOT NULL,
    parent_nid BIGINT,
    blocks BLOB,
    delta BLOB,
    chain_entries BIGINT NOT NULL,
    state_size BIGINT NOT NULL
);

CREATE TABLE events (
    event_nid INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    room_nid BIGINT NOT NULL,
    type_nid BIGINT NOT NULL,
    state_key_nid BIGINT,
    depth BIGINT NOT NULL,
    stream_ordering BIGINT NOT NULL UNIQUE,
    origin_server_ts BIGINT NOT NULL,
    sender TEXT NOT NULL,
    json TEXT NOT NULL,
    rejected BOOLEAN NOT NULL DEFAULT FALSE,
    soft_failed BOOLEAN NOT NULL DEFAULT FALSE,
    redacted_by BIGINT,
    state_before_nid BIGINT NOT NULL,
    state_after_nid BIGINT NOT NULL
);
CREATE INDEX events_room_stream ON events (room_nid, stream_ordering);
CREATE INDEX events_room_state ON events (room_nid, type_nid, state_key_nid)
    WHERE state_key_nid IS NOT NULL;

CREATE TABLE room_forward_extremities (
    room_nid BIGINT NOT NULL,
    event_nid BIGINT NOT NULL,
    PRIMARY KEY (room_nid, event_nid)
);

-- Current membership of every user who has one, per room (the joined-members index).
CREATE TABLE room_memberships (
    room_nid BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    membership TEXT NOT NULL,
    event_nid BIGINT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    PRIMARY KEY (room_nid, user_id)
);
CREATE INDEX room_memberships_user ON room_memberships (user_id, membership);

-- Global monotonic stream positions; the row lock orders commits (see event_store.py).
CREATE TABLE stream_positions (
    stream TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);
INSERT INTO stream_positions (stream, position) VALUES ('events', 0);

-- Client transaction ids of sent events (idempotency per device, room and txn id).
CREATE TABLE event_txn_ids (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    room_nid BIGINT NOT NULL,
    txn_id TEXT NOT NULL,
    event_nid BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id, room_nid, txn_id)
);
CREATE INDEX event_txn_ids_event ON event_txn_ids (event_nid);

CREATE TABLE room_aliases (
    room_alias TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    creator TEXT NOT NULL
);
CREATE INDEX room_aliases_room ON room_aliases (room_id);

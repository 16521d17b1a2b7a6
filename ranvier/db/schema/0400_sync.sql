-- Send-to-device messages waiting for delivery, and the sync streams' own counters.
-- Owned by ranvier.sync (see ranvier/sync/to_device.py). Written once for SQLite and
-- PostgreSQL.

-- Monotonic stream positions of sync-owned streams (bumped with UPDATE ... RETURNING
-- inside the writing transaction).
CREATE TABLE sync_stream_positions (
    stream TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);
INSERT INTO sync_stream_positions (stream, position) VALUES ('to_device', 0);

-- One row per (message, recipient device), deleted once a later sync acknowledges it.
CREATE TABLE to_device_inbox (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    stream_id BIGINT NOT NULL,
    sender TEXT NOT NULL,
    event_type TEXT NOT NULL,
    content TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id, stream_id)
);

-- Transaction ids of PUT /sendToDevice (idempotency per sending device).
CREATE TABLE to_device_txns (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    created_ts BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id, txn_id)
);

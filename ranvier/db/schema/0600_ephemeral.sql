-- Receipts and presence (ranvier.ephemeral). Typing notifications live only in memory.
-- Written once for SQLite and PostgreSQL.

-- Monotonic stream positions of the ephemeral streams stored here (bumped with
-- UPDATE ... RETURNING inside the writing transaction, so positions commit in order).
CREATE TABLE ephemeral_stream_positions (
    stream TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);
INSERT INTO ephemeral_stream_positions (stream, position) VALUES ('receipts', 0);
INSERT INTO ephemeral_stream_positions (stream, position) VALUES ('presence', 0);

-- The latest receipt per (room, type, user, thread); thread_id '' is "unthreaded"
-- (client-server-api "Receipts": one event per user, type and categorisation).
CREATE TABLE receipts (
    room_id TEXT NOT NULL,
    receipt_type TEXT NOT NULL,
    user_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    -- Stream ordering of the acknowledged event when known (receipts never move back).
    event_stream_ordering BIGINT,
    -- The receipt's JSON data as delivered to clients ({"ts": ..., "thread_id": ...}).
    data TEXT NOT NULL,
    stream_id BIGINT NOT NULL,
    PRIMARY KEY (room_id, receipt_type, user_id, thread_id)
);
CREATE INDEX receipts_by_stream ON receipts (stream_id);

-- The presence of each user (client-server-api "Presence").
CREATE TABLE presence (
    user_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    status_msg TEXT,
    last_active_ts BIGINT NOT NULL,
    last_user_sync_ts BIGINT NOT NULL,
    currently_active BOOLEAN NOT NULL,
    stream_id BIGINT NOT NULL
);
CREATE INDEX presence_by_stream ON presence (stream_id);

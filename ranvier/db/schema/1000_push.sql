-- Push notifications (client-server-api "Push Notifications"; ranvier.push). Written
-- once for SQLite and PostgreSQL.

-- A user's push rules: their own rules and their changes to the server-default ones,
-- as one JSON document (ranvier.core.push_rules.UserRules.to_json). A user without a
-- row has the server defaults.
CREATE TABLE push_rules (
    user_id TEXT PRIMARY KEY,
    rules TEXT NOT NULL
);

-- Pushers (POST /pushers/set): unique per (user, app_id, pushkey). device_id is the
-- device whose access token created the pusher: logging that device out deletes it.
CREATE TABLE pushers (
    user_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    pushkey TEXT NOT NULL,
    kind TEXT NOT NULL,
    app_display_name TEXT NOT NULL,
    device_display_name TEXT NOT NULL,
    profile_tag TEXT,
    lang TEXT NOT NULL,
    data TEXT NOT NULL,
    device_id TEXT,
    pushkey_ts BIGINT NOT NULL,
    PRIMARY KEY (user_id, app_id, pushkey)
);
CREATE INDEX pushers_by_pushkey ON pushers (app_id, pushkey);

-- One row per event that notified a user (GET /notifications), with the actions of
-- the rule that matched and whether it highlights.
CREATE TABLE push_notifications (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    -- The thread root of an event in a thread, 'main' otherwise (client-server-api
    -- "Receiving notifications": counts are partitioned per thread).
    thread_id TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    actions TEXT NOT NULL,
    highlight BOOLEAN NOT NULL,
    ts BIGINT NOT NULL,
    PRIMARY KEY (user_id, stream_ordering)
);

-- Unread counts per user, room and thread ('main': the main timeline), and how far
-- the user has read that thread (the stream ordering of their furthest m.read /
-- m.read.private receipt covering it, or of their own latest event in it):
-- notifications at or before read_ordering are read.
CREATE TABLE push_counts (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    notif_count BIGINT NOT NULL,
    highlight_count BIGINT NOT NULL,
    read_ordering BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id, thread_id)
);

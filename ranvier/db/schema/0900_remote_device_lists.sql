-- Device lists and cross-signing keys of remote users, as other servers push them with
-- m.device_list_update and m.signing_key_update EDUs (server-server-api "Device
-- Management", "End-to-End Encryption"). Owned by ranvier.federation.edus
-- (device_lists.py); kept for the end-to-end encryption work (/keys/query of remote
-- users). Same SQL on both databases.

-- One row per remote device; a deleted device keeps its row (deleted = TRUE) so that a
-- late, older update cannot bring it back.
CREATE TABLE remote_device_lists (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    stream_id BIGINT NOT NULL,
    display_name TEXT,
    keys_json TEXT,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    updated_ts BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id)
);

-- Per remote user: the latest stream_id applied, and whether the list must be fetched
-- again (an update referred to a prev_id this server never saw).
CREATE TABLE remote_device_list_streams (
    user_id TEXT PRIMARY KEY,
    stream_id BIGINT NOT NULL,
    needs_resync BOOLEAN NOT NULL DEFAULT FALSE
);

-- The master, self-signing (and user-signing) keys of remote users.
CREATE TABLE remote_cross_signing_keys (
    user_id TEXT NOT NULL,
    key_type TEXT NOT NULL,
    keys_json TEXT NOT NULL,
    PRIMARY KEY (user_id, key_type)
);

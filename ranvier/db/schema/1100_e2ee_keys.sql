-- End-to-end encryption keys of local devices and users, and the device list stream
-- (client-server-api "End-to-End Encryption", keys.yaml, cross_signing.yaml;
-- server-server-api "Device Management"). Owned by ranvier.e2ee. Same SQL on both
-- databases.

-- The identity keys each device uploaded (POST /keys/upload "device_keys"), as signed.
CREATE TABLE e2e_device_keys (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    keys_json TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id)
);

-- Unclaimed one-time keys; "ord" keeps the upload order (claims take the oldest).
CREATE TABLE e2e_one_time_keys (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key_json TEXT NOT NULL,
    ord BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id, algorithm, key_id)
);
CREATE INDEX e2e_one_time_keys_order ON e2e_one_time_keys (user_id, device_id, algorithm, ord);

-- At most one fallback key per device and algorithm; "used" once claimed.
CREATE TABLE e2e_fallback_keys (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key_json TEXT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, device_id, algorithm)
);

-- Cross-signing keys of local users: key_type is master, self_signing or user_signing.
CREATE TABLE e2e_cross_signing_keys (
    user_id TEXT NOT NULL,
    key_type TEXT NOT NULL,
    keys_json TEXT NOT NULL,
    PRIMARY KEY (user_id, key_type)
);

-- Signatures uploaded with POST /keys/signatures/upload on a key of target_user_id
-- (a device id or a cross-signing public key) by signer_user_id's key signer_key_id.
CREATE TABLE e2e_signatures (
    target_user_id TEXT NOT NULL,
    target_key_id TEXT NOT NULL,
    signer_user_id TEXT NOT NULL,
    signer_key_id TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (target_user_id, target_key_id, signer_user_id, signer_key_id)
);

-- The device list stream: one row per change of a user's devices or cross-signing
-- keys (local users, and remote users as their servers report them). device_id is ''
-- for a change of the cross-signing keys. Position: sync_stream_positions
-- 'device_lists'.
CREATE TABLE device_list_stream (
    stream_id BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    PRIMARY KEY (stream_id, user_id, device_id)
);
CREATE INDEX device_list_stream_user ON device_list_stream (user_id, stream_id);
INSERT INTO sync_stream_positions (stream, position) VALUES ('device_lists', 0);

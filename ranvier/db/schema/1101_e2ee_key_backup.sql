-- Server-side key backups (client-server-api "Server-side key backups",
-- key_backup.yaml). Owned by ranvier.e2ee (backup.py). Same SQL on both databases.

-- One row per backup version of a user; a deleted version keeps its row (deleted =
-- TRUE) so that its number is never handed out again. etag counts changes of the keys.
CREATE TABLE e2e_backup_versions (
    user_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    algorithm TEXT NOT NULL,
    auth_data TEXT NOT NULL,
    etag BIGINT NOT NULL DEFAULT 0,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, version)
);

-- The backed-up session keys of a version.
CREATE TABLE e2e_backup_keys (
    user_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    room_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    first_message_index BIGINT NOT NULL,
    forwarded_count BIGINT NOT NULL,
    is_verified BOOLEAN NOT NULL,
    session_data TEXT NOT NULL,
    PRIMARY KEY (user_id, version, room_id, session_id)
);

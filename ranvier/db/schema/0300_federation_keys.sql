-- Remote servers' signing keys, as fetched directly or through notaries.
-- Owned by ranvier.federation (key_store.py). Written once for SQLite and PostgreSQL.
--
-- One row per (server, key id). valid_until_ts is the valid_until_ts of the key
-- response the key came in; expired_ts is set for keys listed in old_verify_keys.
-- key_json is that whole signed response (with a notary's signature when it came
-- through one), kept so this server can answer notary queries with it.
CREATE TABLE federation_server_keys (
    server_name TEXT NOT NULL,
    key_id TEXT NOT NULL,
    verify_key TEXT NOT NULL,
    valid_until_ts BIGINT NOT NULL,
    expired_ts BIGINT,
    fetched_ts BIGINT NOT NULL,
    from_server TEXT NOT NULL,
    key_json TEXT NOT NULL,
    PRIMARY KEY (server_name, key_id)
);

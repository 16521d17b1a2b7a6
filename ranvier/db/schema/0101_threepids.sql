-- Third-party identifiers (email addresses) validated by this server and bound to
-- accounts. Owned by ranvier.users.threepids. Written once for SQLite and PostgreSQL.

-- One validation attempt per (client_secret, medium, address): a requestToken call
-- creates it, the link in the mail (or submit_url) validates it. The token is stored
-- as its SHA-256, like access tokens.
CREATE TABLE threepid_validations (
    sid TEXT PRIMARY KEY,
    client_secret TEXT NOT NULL,
    medium TEXT NOT NULL,
    address TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    send_attempt BIGINT NOT NULL,
    next_link TEXT,
    created_ts BIGINT NOT NULL,
    validated_ts BIGINT
);
CREATE UNIQUE INDEX threepid_validations_attempt
    ON threepid_validations (client_secret, medium, address);

-- An address belongs to at most one account.
CREATE TABLE user_threepids (
    medium TEXT NOT NULL,
    address TEXT NOT NULL,
    user_id TEXT NOT NULL,
    validated_ts BIGINT NOT NULL,
    added_ts BIGINT NOT NULL,
    PRIMARY KEY (medium, address)
);
CREATE INDEX user_threepids_user ON user_threepids (user_id);

-- OpenID tokens (client-server-api "OpenID", server-server-api "OpenID"): issued by
-- POST /user/{userId}/openid/request_token, exchanged by third-party services at
-- GET /_matrix/federation/v1/openid/userinfo. Owned by ranvier.users.openid. Only the
-- token's SHA-256 is stored, as for access tokens. Written once for both databases.
CREATE TABLE openid_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    expires_ts BIGINT NOT NULL
);
CREATE INDEX openid_tokens_expiry ON openid_tokens (expires_ts);

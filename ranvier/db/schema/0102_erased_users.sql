-- Users who deactivated their account with erase (ranvier.users.erasure): their
-- events are served redacted to other servers from then on.
CREATE TABLE erased_users (
    user_id TEXT PRIMARY KEY NOT NULL,
    erased_ts BIGINT NOT NULL
);

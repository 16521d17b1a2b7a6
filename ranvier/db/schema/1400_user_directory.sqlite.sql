-- The user directory index (client-server-api "User Directory"), owned by
-- ranvier.users.directory_store. Derived data: rebuilt from room state when missing.
-- The PostgreSQL file has the same tables; only the words column's collation differs
-- (bytewise, so that a range scan is a prefix search).

-- Every user the directory can return: members of rooms this server is in (local and
-- remote), and every local account when user_api.user_directory.search_all_users.
CREATE TABLE user_directory (
    user_id TEXT PRIMARY KEY,
    display_name TEXT,
    avatar_url TEXT,
    is_local BOOLEAN NOT NULL
);

-- Lower-cased words of each user's display name and localpart, the whole localpart and
-- the whole user id; a search term matches a word it is a prefix of.
CREATE TABLE user_directory_words (
    word TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (word, user_id)
);
CREATE INDEX user_directory_words_user ON user_directory_words (user_id);

-- Rooms this server is in (a local user is joined), and whether they are public for
-- the directory (join rule public or history visibility world_readable).
CREATE TABLE user_directory_rooms (
    room_id TEXT PRIMARY KEY,
    is_public BOOLEAN NOT NULL
);

-- Joined members of those rooms.
CREATE TABLE user_directory_members (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    is_local BOOLEAN NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX user_directory_members_user ON user_directory_members (user_id, room_id);
CREATE INDEX user_directory_members_local ON user_directory_members (room_id) WHERE is_local;

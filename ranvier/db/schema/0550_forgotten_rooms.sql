-- Rooms a user has forgotten (client-server-api "Leaving rooms", POST /rooms/{roomId}/forget).
-- Owned by ranvier.rooms.forgotten. A row holds the stream position of the membership event
-- the user forgot at; it counts only while room_memberships still has that position, so any
-- later membership change (re-join, re-invite, knock) makes the room remembered again.
CREATE TABLE room_forgotten (
    user_id TEXT NOT NULL,
    room_nid BIGINT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_nid)
);

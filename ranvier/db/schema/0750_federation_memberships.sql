-- Federated memberships outside rooms this server is in, and backfill (same SQL on both
-- databases). Owned by ranvier.federation (out_of_room.py, backfill.py).

-- The stripped state shown with an invite or knock of a room this server is not in
-- (server-server-api "Inviting to a room", "Knocking upon a room"): the invite_room_state
-- or knock_room_state that came with the membership event (an outlier), as stripped
-- state events in a JSON list.
CREATE TABLE federation_stripped_state (
    event_nid BIGINT PRIMARY KEY,
    json TEXT NOT NULL
);

-- Backfilled events are older than anything the room had: they take stream positions
-- below zero, counting down, so /messages (paging by stream position) reaches them after
-- the events already held and /sync (which reads positions above its token) never
-- reports them as new.
INSERT INTO stream_positions (stream, position) VALUES ('backfill', 0);

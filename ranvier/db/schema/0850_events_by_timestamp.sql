-- GET /rooms/{roomId}/timestamp_to_event (client-server-api, room_event_by_timestamp.yaml):
-- the closest event of a room before or after a timestamp. Owned by
-- ranvier.sync.timestamps, which walks this index in (origin_server_ts, stream_ordering)
-- order from the requested timestamp.
CREATE INDEX events_room_ts ON events (room_nid, origin_server_ts, stream_ordering);

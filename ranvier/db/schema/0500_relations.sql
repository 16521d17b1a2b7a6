-- Relations, threads, redactions and reports. Owned by ranvier.rooms (see
-- ranvier/rooms/relation_store.py, redactions.py and reports.py). One script for SQLite
-- and PostgreSQL.

-- One row per event whose content has a well-formed m.relates_to (client-server-api
-- "Forming relationships between events"), written in the event's persist transaction
-- and deleted when the event is redacted (the relationship is then broken).
CREATE TABLE event_relations (
    event_nid BIGINT PRIMARY KEY,
    event_id TEXT NOT NULL,
    room_nid BIGINT NOT NULL,
    parent_id TEXT NOT NULL,
    rel_type TEXT NOT NULL,
    event_type TEXT NOT NULL,
    sender TEXT NOT NULL,
    -- m.relates_to.key of annotations, else NULL
    aggregation_key TEXT,
    origin_server_ts BIGINT NOT NULL,
    stream_ordering BIGINT NOT NULL
);
CREATE INDEX event_relations_parent ON event_relations (parent_id, room_nid, stream_ordering);
CREATE INDEX event_relations_annotation ON event_relations
    (parent_id, sender, event_type, aggregation_key) WHERE aggregation_key IS NOT NULL;

-- Per thread root: the latest m.thread child and the number of children (the m.thread
-- aggregation and GET /threads, ordered by latest_stream).
CREATE TABLE room_threads (
    room_nid BIGINT NOT NULL,
    root_id TEXT NOT NULL,
    latest_nid BIGINT NOT NULL,
    latest_stream BIGINT NOT NULL,
    thread_count BIGINT NOT NULL,
    PRIMARY KEY (room_nid, root_id)
);
CREATE INDEX room_threads_latest ON room_threads (room_nid, latest_stream);

-- Every m.room.redaction with its target, so a target that arrives after its redaction
-- is redacted when it is persisted (rooms fragment v3-handling-redactions).
CREATE TABLE event_redactions (
    redaction_nid BIGINT PRIMARY KEY,
    room_nid BIGINT NOT NULL,
    target_id TEXT NOT NULL
);
CREATE INDEX event_redactions_target ON event_redactions (target_id);

-- Reports of rooms (event_id NULL) and events (client-server-api "Reporting content").
CREATE TABLE content_reports (
    report_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    event_id TEXT,
    reporter TEXT NOT NULL,
    reason TEXT,
    score BIGINT,
    received_ts BIGINT NOT NULL
);
CREATE INDEX content_reports_room ON content_reports (room_id, received_ts);

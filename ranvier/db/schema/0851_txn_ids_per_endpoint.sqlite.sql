-- Transaction ids are scoped to a device and an HTTP endpoint (client-server-api
-- "Transaction identifiers": a retransmission has the same transaction id *and* the same
-- path), so PUT /send/{eventType}/{txnId} and PUT /redact/{eventId}/{txnId} with one
-- transaction id are two requests. Owned by ranvier.rooms.event_store: the new column
-- `scope` names the endpoint ("send <event type>", "redact <event id>"). Rows written
-- before this migration get '' and match no later request.
CREATE TABLE event_txn_ids_0851 (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    room_nid BIGINT NOT NULL,
    scope TEXT NOT NULL DEFAULT '',
    txn_id TEXT NOT NULL,
    event_nid BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id, room_nid, scope, txn_id)
);
INSERT INTO event_txn_ids_0851 (user_id, device_id, room_nid, scope, txn_id, event_nid)
    SELECT user_id, device_id, room_nid, '', txn_id, event_nid FROM event_txn_ids;
DROP TABLE event_txn_ids;
ALTER TABLE event_txn_ids_0851 RENAME TO event_txn_ids;
CREATE INDEX event_txn_ids_event ON event_txn_ids (event_nid);

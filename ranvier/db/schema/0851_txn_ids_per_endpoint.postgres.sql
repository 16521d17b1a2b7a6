-- Transaction ids are scoped to a device and an HTTP endpoint (client-server-api
-- "Transaction identifiers": a retransmission has the same transaction id *and* the same
-- path), so PUT /send/{eventType}/{txnId} and PUT /redact/{eventId}/{txnId} with one
-- transaction id are two requests. Owned by ranvier.rooms.event_store: the new column
-- `scope` names the endpoint ("send <event type>", "redact <event id>"). Rows written
-- before this migration get '' and match no later request.
ALTER TABLE event_txn_ids ADD COLUMN scope TEXT NOT NULL DEFAULT '';
ALTER TABLE event_txn_ids DROP CONSTRAINT event_txn_ids_pkey;
ALTER TABLE event_txn_ids ADD PRIMARY KEY (user_id, device_id, room_nid, scope, txn_id);

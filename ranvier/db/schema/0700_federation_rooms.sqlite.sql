-- Federation of room events (SQLite). Owned by ranvier.federation (sender.py,
-- transactions.py) and ranvier.rooms.remote_store. The PostgreSQL file has the same tables.

-- Events known only by reference (auth events, state fetched for a gap): not part of the
-- timeline, no state of their own (state_before_nid = state_after_nid = 0), hidden from
-- clients (stored soft_failed too). An outlier that later arrives in the DAG is updated
-- in place into a timeline event.
ALTER TABLE events ADD COLUMN outlier BOOLEAN NOT NULL DEFAULT FALSE;

-- The persisted outbound queue: one row per PDU or EDU per destination, sent in position
-- order, deleted once the destination accepted the transaction that carried it.
-- AUTOINCREMENT: positions are never reused, so transaction ids made from them are unique.
CREATE TABLE federation_outbox (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    destination TEXT NOT NULL,
    kind TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX federation_outbox_destination ON federation_outbox (destination, position);

-- Responses to inbound transactions, for idempotency per (origin, txn_id).
CREATE TABLE federation_inbound_txns (
    origin TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    response TEXT NOT NULL,
    received_ts BIGINT NOT NULL,
    PRIMARY KEY (origin, txn_id)
);

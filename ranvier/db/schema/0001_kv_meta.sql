-- Server-wide metadata as key/value text pairs (ranvier.db.meta): e.g. the
-- server name the database was created for, or persisted stream positions.
-- The schema_migrations bookkeeping table is created by ranvier.db.migrations
-- itself, before any migration runs.
CREATE TABLE kv_meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- Which identity server each third-party identifier was bound to through this server
-- (client-server-api POST /account/3pid/bind: "Homeservers should track successful
-- binds so they can be unbound later"). /account/3pid/unbind and /account/3pid/delete
-- without id_server, and account deactivation, unbind from the servers listed here.
-- Owned by ranvier.users.identity_bindings. Written once for SQLite and PostgreSQL.
-- Unlike user_threepids, an address may be bound by several users and at several
-- identity servers (the identity server decides who owns it).
CREATE TABLE threepid_id_servers (
    user_id TEXT NOT NULL,
    medium TEXT NOT NULL,
    address TEXT NOT NULL,
    id_server TEXT NOT NULL,
    bound_ts BIGINT NOT NULL,
    PRIMARY KEY (user_id, medium, address, id_server)
);

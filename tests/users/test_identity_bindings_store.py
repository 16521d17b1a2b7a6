"""The store of identity-server bindings (``threepid_id_servers``), on SQLite and
PostgreSQL; and the canonical form addresses are kept in."""

from __future__ import annotations

from ranvier.db.api import Database
from ranvier.users.identity_bindings import IdentityBindingStore, canonical_address


async def test_bindings_roundtrip(database: Database) -> None:
    store = IdentityBindingStore(database)
    await store.add("@a:hs", "email", "a@x.org", "is1.example")
    await store.add("@a:hs", "email", "a@x.org", "is1.example")  # idempotent
    await store.add("@a:hs", "email", "a@x.org", "is0.example:8090")
    await store.add("@a:hs", "msisdn", "4412345", "is1.example")
    # Another user may have the same address bound (the identity server decides).
    await store.add("@b:hs", "email", "a@x.org", "is1.example")
    servers = await store.servers_for("@a:hs", "email", "a@x.org")
    assert servers == ["is0.example:8090", "is1.example"]
    assert await store.servers_for("@a:hs", "email", "other@x.org") == []
    assert await store.all_for("@a:hs") == [
        ("email", "a@x.org", "is0.example:8090"),
        ("email", "a@x.org", "is1.example"),
        ("msisdn", "4412345", "is1.example"),
    ]
    await store.remove("@a:hs", "email", "a@x.org", "is1.example")
    assert await store.servers_for("@a:hs", "email", "a@x.org") == ["is0.example:8090"]
    await store.delete_user("@a:hs")
    assert await store.all_for("@a:hs") == []
    assert await store.all_for("@b:hs") == [("email", "a@x.org", "is1.example")]


def test_canonical_address() -> None:
    assert canonical_address("email", " Bob@Example.ORG ") == "bob@example.org"
    assert canonical_address("email", "not an address") == "not an address"
    assert canonical_address("msisdn", " 4412345 ") == "4412345"

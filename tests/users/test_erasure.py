"""The erased users store (ranvier.users.erasure), on SQLite and PostgreSQL."""

from __future__ import annotations

from ranvier.db import Database
from ranvier.users.erasure import ErasedUsers


async def test_erased_users(database: Database) -> None:
    erased = ErasedUsers(database)
    assert await erased.erased_among(["@a:hs", "@b:hs"]) == set()
    await erased.mark("@a:hs")
    await erased.mark("@a:hs")  # idempotent
    assert await erased.erased_among(["@a:hs", "@b:hs", "@a:hs"]) == {"@a:hs"}
    assert await erased.erased_among([]) == set()

"""The erased users store (ranvier.users.erasure), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from ranvier.db import Database
from ranvier.users import erasure
from ranvier.users.erasure import ErasedUsers


async def test_erased_users(database: Database) -> None:
    erased = ErasedUsers(database)
    assert await erased.erased_among(["@a:hs", "@b:hs"]) == set()
    await erased.mark("@a:hs")
    await erased.mark("@a:hs")  # idempotent
    assert await erased.erased_among(["@a:hs", "@b:hs", "@a:hs"]) == {"@a:hs"}
    assert await erased.erased_among([]) == set()


async def test_erased_users_held_in_memory_and_refreshed(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads come from memory; a mark here is seen at once by every instance, a row
    written by another process once the copy is older than REFRESH_SECONDS."""
    first = ErasedUsers(database)
    assert await first.erased_at("@a:hs") is None  # reads the (empty) table
    await first.mark("@a:hs")
    other = ErasedUsers(database)
    stamp = await other.erased_at("@a:hs")
    assert stamp is not None and stamp > 0
    await first.mark("@a:hs")  # the first timestamp stays
    assert await other.erased_at("@a:hs") == stamp
    await database.execute(
        "INSERT INTO erased_users (user_id, erased_ts) VALUES ($1, $2)", "@b:hs", 42
    )
    assert await other.erased_at("@b:hs") is None  # not re-read yet
    monkeypatch.setattr(erasure, "REFRESH_SECONDS", 0.0)
    assert await other.erased_at("@b:hs") == 42
    assert await other.erased_among(["@a:hs", "@b:hs", "@c:hs"]) == {"@a:hs", "@b:hs"}

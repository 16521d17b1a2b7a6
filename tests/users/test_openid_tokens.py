"""OpenID token store (client-server-api and server-server-api "OpenID"), on SQLite
and PostgreSQL: tokens are stored hashed, expire, are purged once expired, and stop
working when the account is deactivated."""

from __future__ import annotations

from ranvier.db import Database
from ranvier.users.openid import OPENID_PREFIX, OpenIdTokens
from ranvier.users.tokens import hash_token


async def _account(db: Database, user_id: str) -> None:
    await db.execute("INSERT INTO accounts (user_id, created_ts) VALUES ($1, $2)", user_id, 1)


async def test_issue_lookup_expiry_and_purge(database: Database) -> None:
    tokens = OpenIdTokens(database, lifetime_ms=60_000)
    await _account(database, "@alice:hs")
    await _account(database, "@bob:hs")
    first = await tokens.issue("@alice:hs", now_ms=1_000)
    assert first.token.startswith(OPENID_PREFIX)
    assert (first.expires_ts, first.lifetime_ms) == (61_000, 60_000)
    # Only the hash is stored.
    rows = await database.fetchall("SELECT token_hash, user_id FROM openid_tokens")
    assert [(r[0], r[1]) for r in rows] == [(hash_token(first.token), "@alice:hs")]

    assert await tokens.owner(first.token, now_ms=60_999) == "@alice:hs"
    assert await tokens.owner(first.token, now_ms=61_000) is None
    assert await tokens.owner("rvo_unknown", now_ms=2_000) is None
    assert await tokens.owner(hash_token(first.token), now_ms=2_000) is None

    # Two tokens of the same user are independent; issuing purges expired rows.
    second = await tokens.issue("@alice:hs", now_ms=30_000)
    assert second.token != first.token
    bob = await tokens.issue("@bob:hs", now_ms=70_000)
    rows = await database.fetchall("SELECT token_hash FROM openid_tokens")
    assert {r[0] for r in rows} == {hash_token(second.token), hash_token(bob.token)}
    assert await tokens.owner(bob.token, now_ms=70_001) == "@bob:hs"


async def test_deactivated_account_tokens_stop_working(database: Database) -> None:
    tokens = OpenIdTokens(database, lifetime_ms=60_000)
    await _account(database, "@carol:hs")
    issued = await tokens.issue("@carol:hs", now_ms=1_000)
    assert await tokens.owner(issued.token, now_ms=2_000) == "@carol:hs"
    await database.execute(
        "UPDATE accounts SET deactivated = $1 WHERE user_id = $2", True, "@carol:hs"
    )
    assert await tokens.owner(issued.token, now_ms=2_000) is None

"""Tokens (issue, cache, revoke, refresh rotation), UIA sessions and bcrypt, on both
databases."""

from __future__ import annotations

import bcrypt
import pytest

from ranvier.db.api import Database
from ranvier.http.types import MatrixError
from ranvier.users.accounts import AccountStore
from ranvier.users.passwords import check_password, hash_password
from ranvier.users.tokens import TokenStore, UnknownRefreshToken, hash_token
from ranvier.users.uia import StageFailed, UiaRequired, UiaSession, UiaStore, UserInteractiveAuth


async def _issue(db: Database, tokens: TokenStore, device: str, refreshable: bool = False) -> str:
    async with db.transaction() as conn:
        issued = await tokens.issue(
            conn, "@a:hs", device, refreshable=refreshable, lifetime_ms=60_000
        )
    return issued.refresh_token if refreshable and issued.refresh_token else issued.access_token


async def test_tokens_lookup_cache_and_revocation(database: Database) -> None:
    await AccountStore(database).create("@a:hs", None)
    tokens = TokenStore(database)
    t1 = await _issue(database, tokens, "D1")
    t2 = await _issue(database, tokens, "D2")
    assert t1.startswith("rv_") and len(t1) > 40
    # Only the hash is stored.
    row = await database.fetchone("SELECT token_hash FROM access_tokens WHERE device_id = 'D1'")
    assert row is not None and row[0] == hash_token(t1) and t1 not in row[0]

    info = await tokens.lookup(t1)
    assert info is not None and info.user_id == "@a:hs" and info.device_id == "D1"
    misses = tokens.cache_misses
    assert await tokens.lookup(t1) == info
    assert tokens.cache_misses == misses and tokens.cache_hits >= 1
    assert await tokens.lookup("rv_nonsense") is None

    await tokens.revoke_access_token(info.token_hash)
    assert await tokens.lookup(t1) is None
    await tokens.lookup(t2)  # cached
    async with database.transaction() as conn:
        await tokens.revoke_devices_in(conn, "@a:hs", ["D2"])
    tokens.evict("@a:hs", ["D2"])
    assert await tokens.lookup(t2) is None


async def test_revoke_all_keeps_one(database: Database) -> None:
    await AccountStore(database).create("@a:hs", None)
    tokens = TokenStore(database)
    keep = await _issue(database, tokens, "D1")
    drop = await _issue(database, tokens, "D2")
    await tokens.lookup(drop)
    await tokens.revoke_all_for_user("@a:hs", except_token_hash=hash_token(keep))
    assert await tokens.lookup(keep) is not None
    assert await tokens.lookup(drop) is None


async def test_refresh_rotation(database: Database) -> None:
    await AccountStore(database).create("@a:hs", None)
    tokens = TokenStore(database)
    async with database.transaction() as conn:
        first = await tokens.issue(conn, "@a:hs", "D", refreshable=True, lifetime_ms=60_000)
    assert first.refresh_token is not None and first.expires_in_ms == 60_000
    second = await tokens.refresh(first.refresh_token, 60_000)
    # The old refresh token still works until the new pair is used (a retry).
    retry = await tokens.refresh(first.refresh_token, 60_000)
    assert await tokens.lookup(first.access_token) is not None
    # Using the retried pair's access token revokes the old refresh token and its siblings.
    info = await tokens.lookup(retry.access_token)
    assert info is not None and info.device_id == "D" and not info.pending_prev
    with pytest.raises(UnknownRefreshToken):
        await tokens.refresh(first.refresh_token, 60_000)
    assert second.refresh_token is not None
    with pytest.raises(UnknownRefreshToken):
        await tokens.refresh(second.refresh_token, 60_000)
    assert await tokens.lookup(first.access_token) is None
    assert await tokens.lookup(second.access_token) is None
    assert retry.refresh_token is not None
    third = await tokens.refresh(retry.refresh_token, 60_000)
    assert await tokens.lookup(third.access_token) is not None


async def test_login_tokens_single_use(database: Database) -> None:
    tokens = TokenStore(database)
    token = await tokens.create_login_token("@a:hs", 60_000)
    assert await tokens.consume_login_token(token) == "@a:hs"
    assert await tokens.consume_login_token(token) is None
    expired = await tokens.create_login_token("@a:hs", -1)
    assert await tokens.consume_login_token(expired) is None


async def test_uia_flow_order_failure_and_reuse(database: Database) -> None:
    uia = UserInteractiveAuth(UiaStore(database))
    calls: list[str] = []

    async def password(auth: dict[str, object], session: UiaSession) -> None:
        calls.append("password")
        if auth.get("password") != "secret":
            raise StageFailed("M_FORBIDDEN", "Invalid password")

    async def dummy(auth: dict[str, object], session: UiaSession) -> None:
        calls.append("dummy")

    flows = [["m.login.dummy", "m.login.password"]]
    checkers = {"m.login.password": password, "m.login.dummy": dummy}
    kw = dict(method="POST", path="/x", flows=flows, checkers=checkers, user_id="@a:hs")

    with pytest.raises(UiaRequired) as first:
        await uia.authenticate(None, request={"n": 1}, **kw)  # type: ignore[arg-type]
    body = first.value.body
    assert "completed" not in body
    assert body["flows"] == [{"stages": ["m.login.dummy", "m.login.password"]}]
    assert "errcode" not in body and first.value.status == 401
    session = body["session"]

    # Out of order.
    with pytest.raises(UiaRequired) as out_of_order:
        await uia.authenticate({"type": "m.login.password", "session": session}, **kw)  # type: ignore[arg-type]
    assert out_of_order.value.body["errcode"] == "M_FORBIDDEN"
    assert calls == []

    with pytest.raises(UiaRequired) as step:
        await uia.authenticate({"type": "m.login.dummy", "session": session}, **kw)  # type: ignore[arg-type]
    assert step.value.body["completed"] == ["m.login.dummy"]

    with pytest.raises(UiaRequired) as wrong:
        await uia.authenticate(
            {"type": "m.login.password", "password": "nope", "session": session},
            **kw,  # type: ignore[arg-type]
        )
    assert wrong.value.body["errcode"] == "M_FORBIDDEN"
    assert wrong.value.body["completed"] == ["m.login.dummy"]

    done = await uia.authenticate(
        {"type": "m.login.password", "password": "secret", "session": session},
        **kw,  # type: ignore[arg-type]
    )
    assert done.finished and done.completed == ["m.login.dummy", "m.login.password"]

    # A finished session presented again is a replay: no stage runs again, and the
    # parameters are the remembered ones, not the new request's.
    calls.clear()
    replay = await uia.authenticate(
        {"type": "m.login.password", "password": "nope", "session": session},
        request={"other": "operation"},
        **kw,  # type: ignore[arg-type]
    )
    assert replay.replay and calls == [] and replay.params == {"n": 1}

    # A session is bound to its operation and user.
    with pytest.raises(UiaRequired) as other:
        await uia.authenticate(None, **kw)  # type: ignore[arg-type]
    s2 = other.value.body["session"]
    with pytest.raises(MatrixError) as moved:
        await uia.authenticate(
            {"type": "m.login.dummy", "session": s2},
            method="POST",
            path="/y",
            flows=flows,
            checkers=checkers,
            user_id="@a:hs",
        )
    assert moved.value.status == 403
    with pytest.raises(MatrixError) as unknown:
        await uia.authenticate({"type": "m.login.dummy", "session": "nope"}, **kw)  # type: ignore[arg-type]
    assert unknown.value.errcode == "M_UNKNOWN"


async def test_bcrypt_hashes_and_legacy_prefixes() -> None:
    stored = await hash_password("correct horse", 4)
    assert stored.startswith("$2b$04$")
    assert await check_password("correct horse", stored)
    assert not await check_password("wrong", stored)
    assert not await check_password("x", None)
    assert not await check_password("x", "not-a-hash")
    # Hashes written by other software with $2a$ / $2y$ prefixes verify too.
    raw = bcrypt.hashpw(b"pw", bcrypt.gensalt(4, prefix=b"2a")).decode()
    assert raw.startswith("$2a$") and await check_password("pw", raw)
    assert await check_password("pw", "$2y$" + raw[4:])
    # bcrypt reads 72 bytes; longer passwords behave like older bcrypt (truncated).
    long = "p" * 100
    h = await hash_password(long, 4)
    assert await check_password(long, h) and await check_password("p" * 72, h)

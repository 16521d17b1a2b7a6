"""Access, refresh and login tokens, and the in-memory access-token cache.

Theory of operation
-------------------
Tokens are ``secrets.token_urlsafe(32)`` (256 bits) behind a recognisable prefix
(``rv_`` access, ``rvr_`` refresh, ``rvl_`` login) so a leaked token is easy to spot in
logs and secret scanners. Only the hex SHA-256 of a token is stored: a database dump
does not hand out sessions. SHA-256 without salt is enough because the tokens carry
256 bits of entropy; there is nothing to brute-force.

Every authenticated request looks its token up. :class:`TokenStore` keeps an LRU of
hash -> :class:`TokenInfo` so the common request costs no database round trip. All
revocations in this process (logout, device deletion, password change, deactivation,
refresh rotation) go through this class and evict the affected entries before
returning, so a revoked token fails on the very next request. (Several processes
sharing one database would need a bus message to evict in the others; the cache is
per process.)

Refresh (client-server-api "Refreshing access tokens"): refreshing with R issues a new
access token A2 and refresh token R2 whose ``prev_hash`` is R. R stays usable until A2
or R2 is first used; that first use revokes R, the access tokens issued with R, and any
other refresh tokens minted from R (a client that retried a refresh). Expired access
tokens are rejected with ``soft_logout: true`` by the auth layer.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, replace

from ranvier.db.api import Connection, Database

ACCESS_PREFIX = "rv_"
REFRESH_PREFIX = "rvr_"
LOGIN_PREFIX = "rvl_"


def hash_token(token: str) -> str:
    """Hex SHA-256 of ``token``: the form stored in the database and the cache key."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token(prefix: str) -> str:
    """A fresh high-entropy token with ``prefix``."""
    return prefix + secrets.token_urlsafe(32)


def new_device_id() -> str:
    """A random 10-letter upper-case device ID (like other homeservers generate)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return "".join(secrets.choice(alphabet) for _ in range(10))


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What an access token authenticates."""

    token_hash: str
    user_id: str
    device_id: str
    is_guest: bool
    expires_ts: int | None
    refresh_hash: str | None
    pending_prev: bool
    """True until the first use revokes the refresh token this one's refresh replaced."""

    def expired(self, now_ms: int) -> bool:
        """True once the access token's lifetime is over."""
        return self.expires_ts is not None and now_ms >= self.expires_ts


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    """Tokens handed to a client by login, register or refresh."""

    access_token: str
    refresh_token: str | None
    expires_in_ms: int | None


class UnknownRefreshToken(Exception):
    """The refresh token was never issued or has been revoked."""


class TokenStore:
    """Issues, looks up and revokes tokens; owns the access-token LRU cache."""

    def __init__(self, db: Database, cache_size: int = 10_000) -> None:
        self._db = db
        self._cache: OrderedDict[str, TokenInfo] = OrderedDict()
        self._cache_size = cache_size
        self.cache_hits = 0
        self.cache_misses = 0

    # -- issuing -----------------------------------------------------------------------

    async def issue(
        self,
        conn: Connection,
        user_id: str,
        device_id: str,
        *,
        refreshable: bool,
        lifetime_ms: int | None,
        prev_refresh_hash: str | None = None,
    ) -> IssuedTokens:
        """Create an access token (and a refresh token if ``refreshable``) inside ``conn``.

        Access tokens expire only when the client supports refresh tokens; otherwise
        they live until logout (the spec leaves this to the server).
        """
        now = _now_ms()
        access = new_token(ACCESS_PREFIX)
        refresh: str | None = None
        refresh_hash: str | None = None
        expires_ts: int | None = None
        if refreshable:
            refresh = new_token(REFRESH_PREFIX)
            refresh_hash = hash_token(refresh)
            if lifetime_ms is not None:
                expires_ts = now + lifetime_ms
            await conn.execute(
                "INSERT INTO refresh_tokens (token_hash, user_id, device_id, created_ts, "
                "prev_hash) VALUES ($1, $2, $3, $4, $5)",
                refresh_hash,
                user_id,
                device_id,
                now,
                prev_refresh_hash,
            )
        await conn.execute(
            "INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, expires_ts, "
            "refresh_hash) VALUES ($1, $2, $3, $4, $5, $6)",
            hash_token(access),
            user_id,
            device_id,
            now,
            expires_ts,
            refresh_hash,
        )
        return IssuedTokens(access, refresh, lifetime_ms if expires_ts is not None else None)

    # -- lookup ------------------------------------------------------------------------

    async def lookup(self, token: str) -> TokenInfo | None:
        """The :class:`TokenInfo` of an access token (expired ones included) or None."""
        key = hash_token(token)
        info = self._cache.get(key)
        if info is not None:
            self._cache.move_to_end(key)
            self.cache_hits += 1
        else:
            self.cache_misses += 1
            row = await self._db.fetchone(
                "SELECT t.user_id, t.device_id, a.is_guest, t.expires_ts, t.refresh_hash, "
                "r.prev_hash FROM access_tokens t JOIN accounts a ON a.user_id = t.user_id "
                "LEFT JOIN refresh_tokens r ON r.token_hash = t.refresh_hash "
                "WHERE t.token_hash = $1",
                key,
            )
            if row is None:
                return None
            info = TokenInfo(
                token_hash=key,
                user_id=str(row[0]),
                device_id=str(row[1]),
                is_guest=bool(row[2]),
                expires_ts=None if row[3] is None else int(row[3]),
                refresh_hash=None if row[4] is None else str(row[4]),
                pending_prev=row[5] is not None,
            )
            self._remember(info)
        if info.pending_prev and info.refresh_hash is not None and not info.expired(_now_ms()):
            await self._retire_predecessor(info.refresh_hash)
            info = replace(info, pending_prev=False)
            self._remember(info)
        return info

    def _remember(self, info: TokenInfo) -> None:
        self._cache[info.token_hash] = info
        self._cache.move_to_end(info.token_hash)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _evict_where(self, user_id: str, device_ids: set[str] | None = None) -> None:
        doomed = [
            h
            for h, i in self._cache.items()
            if i.user_id == user_id and (device_ids is None or i.device_id in device_ids)
        ]
        for h in doomed:
            del self._cache[h]

    # -- refresh -----------------------------------------------------------------------

    async def refresh(self, refresh_token: str, lifetime_ms: int | None) -> IssuedTokens:
        """Rotate ``refresh_token`` into a new access/refresh pair on the same device."""
        key = hash_token(refresh_token)
        row = await self._db.fetchone(
            "SELECT user_id, device_id, prev_hash FROM refresh_tokens WHERE token_hash = $1", key
        )
        if row is None:
            raise UnknownRefreshToken()
        user_id, device_id, prev_hash = str(row[0]), str(row[1]), row[2]
        if prev_hash is not None:
            await self._retire_predecessor(key)
        async with self._db.transaction() as conn:
            still = await conn.fetchone("SELECT 1 FROM refresh_tokens WHERE token_hash = $1", key)
            if still is None:
                raise UnknownRefreshToken()
            return await self.issue(
                conn,
                user_id,
                device_id,
                refreshable=True,
                lifetime_ms=lifetime_ms,
                prev_refresh_hash=key,
            )

    async def _retire_predecessor(self, refresh_hash: str) -> None:
        """First use of ``refresh_hash`` (or its access token): revoke what it replaced."""
        doomed_access: list[str] = []
        async with self._db.transaction() as conn:
            row = await conn.fetchone(
                "SELECT prev_hash FROM refresh_tokens WHERE token_hash = $1", refresh_hash
            )
            if row is None or row[0] is None:
                return
            prev = str(row[0])
            siblings = await conn.fetchall(
                "SELECT token_hash FROM refresh_tokens WHERE prev_hash = $1 AND token_hash <> $2",
                prev,
                refresh_hash,
            )
            retired = [prev, *(str(s[0]) for s in siblings)]
            for r in retired:
                rows = await conn.fetchall(
                    "SELECT token_hash FROM access_tokens WHERE refresh_hash = $1", r
                )
                doomed_access.extend(str(x[0]) for x in rows)
                await conn.execute("DELETE FROM access_tokens WHERE refresh_hash = $1", r)
                await conn.execute("DELETE FROM refresh_tokens WHERE token_hash = $1", r)
            await conn.execute(
                "UPDATE refresh_tokens SET prev_hash = NULL WHERE token_hash = $1", refresh_hash
            )
        for h in doomed_access:
            self._cache.pop(h, None)

    # -- revocation --------------------------------------------------------------------

    async def revoke_access_token(self, token_hash: str) -> None:
        """Log out one access token (and the refresh token issued with it)."""
        async with self._db.transaction() as conn:
            row = await conn.fetchone(
                "SELECT refresh_hash FROM access_tokens WHERE token_hash = $1", token_hash
            )
            await conn.execute("DELETE FROM access_tokens WHERE token_hash = $1", token_hash)
            if row is not None and row[0] is not None:
                await conn.execute("DELETE FROM refresh_tokens WHERE token_hash = $1", row[0])
        self._cache.pop(token_hash, None)

    async def revoke_devices_in(
        self, conn: Connection, user_id: str, device_ids: list[str]
    ) -> None:
        """Delete every access and refresh token of the given devices inside ``conn``."""
        for device_id in device_ids:
            await conn.execute(
                "DELETE FROM access_tokens WHERE user_id = $1 AND device_id = $2",
                user_id,
                device_id,
            )
            await conn.execute(
                "DELETE FROM refresh_tokens WHERE user_id = $1 AND device_id = $2",
                user_id,
                device_id,
            )

    def evict(self, user_id: str, device_ids: list[str] | None = None) -> None:
        """Drop cached entries of ``user_id`` (only ``device_ids`` if given).

        Call after the transaction that deleted the rows has committed.
        """
        self._evict_where(user_id, None if device_ids is None else set(device_ids))

    async def revoke_all_for_user(self, user_id: str, except_token_hash: str | None = None) -> None:
        """Delete all tokens of a user except ``except_token_hash`` (and its refresh token)."""
        async with self._db.transaction() as conn:
            keep_refresh = ""
            if except_token_hash is not None:
                row = await conn.fetchone(
                    "SELECT refresh_hash FROM access_tokens WHERE token_hash = $1",
                    except_token_hash,
                )
                if row is not None and row[0] is not None:
                    keep_refresh = str(row[0])
            await conn.execute(
                "DELETE FROM access_tokens WHERE user_id = $1 AND token_hash <> $2",
                user_id,
                except_token_hash or "",
            )
            await conn.execute(
                "DELETE FROM refresh_tokens WHERE user_id = $1 AND token_hash <> $2",
                user_id,
                keep_refresh,
            )
        kept = self._cache.get(except_token_hash) if except_token_hash else None
        self._evict_where(user_id)
        if kept is not None:
            self._remember(kept)

    # -- login tokens (m.login.token) --------------------------------------------------

    async def create_login_token(self, user_id: str, lifetime_ms: int) -> str:
        """A single-use token for ``m.login.token`` (POST /login/get_token)."""
        token = new_token(LOGIN_PREFIX)
        await self._db.execute(
            "INSERT INTO login_tokens (token_hash, user_id, expires_ts) VALUES ($1, $2, $3)",
            hash_token(token),
            user_id,
            _now_ms() + lifetime_ms,
        )
        return token

    async def consume_login_token(self, token: str) -> str | None:
        """The user ID of a valid login token, deleting it; None if unknown or expired."""
        key = hash_token(token)
        async with self._db.transaction() as conn:
            row = await conn.fetchone(
                "SELECT user_id, expires_ts FROM login_tokens WHERE token_hash = $1", key
            )
            if row is None:
                return None
            deleted = await conn.execute("DELETE FROM login_tokens WHERE token_hash = $1", key)
        if deleted == 0 or int(row[1]) <= _now_ms():
            return None
        return str(row[0])

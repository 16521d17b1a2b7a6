"""OpenID tokens: a user proves who they are to a third-party service (an integration
manager, say) without handing it their access token.

Spec: client-server-api "OpenID" (``POST /user/{userId}/openid/request_token``,
openid.yaml, definitions/openid_token.yaml); server-server-api "OpenID"
(``GET /openid/userinfo``, server-server/openid.yaml).

Theory of operation
-------------------
:meth:`OpenIdTokens.issue` makes a fresh 256-bit token (prefix ``rvo_``, see
:mod:`ranvier.users.tokens`) valid for ``user_api.openid_token_lifetime_ms``, and stores
only its SHA-256 with the user and the expiry (``openid_tokens``). The service the user
gives it to calls this server's ``/openid/userinfo``, where :meth:`OpenIdTokens.owner`
answers the user id while the token is unexpired and the account not deactivated. The
tokens live in their own table, so they are good for nothing else: the access-token
lookup never sees them, as the spec requires ("only valid for the OpenID API").
Expired rows are deleted as new tokens are issued (the expiry index keeps that cheap),
so the table holds about one lifetime's worth of tokens.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ranvier.db.api import Database
from ranvier.users.tokens import hash_token, new_token

OPENID_PREFIX = "rvo_"
"""Prefix of OpenID tokens (easy to tell apart from access tokens in logs)."""


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class OpenIdToken:
    """An issued token and when it expires."""

    token: str
    expires_ts: int
    lifetime_ms: int


class OpenIdTokens:
    """Issues and checks OpenID tokens (module docstring)."""

    def __init__(self, db: Database, lifetime_ms: int) -> None:
        self.db = db
        self.lifetime_ms = lifetime_ms

    async def issue(self, user_id: str, now_ms: int | None = None) -> OpenIdToken:
        """A new token for ``user_id`` (and drop the expired ones)."""
        now = _now_ms() if now_ms is None else now_ms
        token = new_token(OPENID_PREFIX)
        expires = now + self.lifetime_ms
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM openid_tokens WHERE expires_ts <= $1", now)
            await conn.execute(
                "INSERT INTO openid_tokens (token_hash, user_id, expires_ts) VALUES ($1, $2, $3)",
                hash_token(token),
                user_id,
                expires,
            )
        return OpenIdToken(token, expires, self.lifetime_ms)

    async def owner(self, token: str, now_ms: int | None = None) -> str | None:
        """The user who was issued ``token``, or None if it is unknown, expired, or
        its account was deactivated since."""
        now = _now_ms() if now_ms is None else now_ms
        row = await self.db.fetchone(
            "SELECT o.user_id FROM openid_tokens o JOIN accounts a ON a.user_id = o.user_id"
            " WHERE o.token_hash = $1 AND o.expires_ts > $2 AND a.deactivated = $3",
            hash_token(token),
            now,
            False,
        )
        return None if row is None else str(row[0])

"""Registration tokens for ``m.login.registration_token`` (client-server-api
"Token-authenticated registration").

A token is an opaque identifier (appendices "Opaque Identifiers", at most 64
characters) with an optional use limit and expiry. The UIA stage only checks that a
token is currently valid and remembers it in the UIA session; the use is counted when
the account is actually created, with a conditional UPDATE so the limit holds even
when many clients race for the last use.
"""

from __future__ import annotations

import re
import secrets
import time

from ranvier.db.api import Database

_TOKEN_RE = re.compile(r"^[A-Za-z0-9._~-]{1,64}$")


def is_valid_token_syntax(token: str) -> bool:
    """True if ``token`` follows the opaque identifier grammar and length."""
    return _TOKEN_RE.fullmatch(token) is not None


class RegistrationTokenStore:
    """Reads and writes ``registration_tokens``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        token: str | None = None,
        uses_allowed: int | None = None,
        expiry_ts: int | None = None,
    ) -> str:
        """Create a token (random 16 characters if none given); return it."""
        token = token or secrets.token_urlsafe(12)
        if not is_valid_token_syntax(token):
            raise ValueError("invalid registration token syntax")
        await self._db.execute(
            "INSERT INTO registration_tokens (token, uses_allowed, pending, completed, expiry_ts) "
            "VALUES ($1, $2, 0, 0, $3)",
            token,
            uses_allowed,
            expiry_ts,
        )
        return token

    async def ensure(self, token: str) -> None:
        """Make sure an unlimited token exists (tokens listed in the config)."""
        if not is_valid_token_syntax(token):
            raise ValueError(f"invalid registration token syntax: {token!r}")
        await self._db.execute(
            "INSERT INTO registration_tokens (token, uses_allowed, pending, completed, expiry_ts) "
            "VALUES ($1, NULL, 0, 0, NULL) ON CONFLICT (token) DO NOTHING",
            token,
        )

    async def is_valid(self, token: str) -> bool:
        """True if the token exists, is not expired and has uses left."""
        if not is_valid_token_syntax(token):
            return False
        row = await self._db.fetchone(
            "SELECT uses_allowed, completed, expiry_ts FROM registration_tokens WHERE token = $1",
            token,
        )
        if row is None:
            return False
        uses_allowed, completed, expiry_ts = row
        if expiry_ts is not None and int(expiry_ts) <= int(time.time() * 1000):
            return False
        return uses_allowed is None or int(completed) < int(uses_allowed)

    async def use(self, token: str) -> bool:
        """Count one completed registration; False if the token became invalid meanwhile."""
        now = int(time.time() * 1000)
        changed = await self._db.execute(
            "UPDATE registration_tokens SET completed = completed + 1 WHERE token = $1 "
            "AND (uses_allowed IS NULL OR completed < uses_allowed) "
            "AND (expiry_ts IS NULL OR expiry_ts > $2)",
            token,
            now,
        )
        return changed == 1

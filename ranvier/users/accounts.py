"""The account table: who exists on this server, their password hash and flags.

A user ID is never reused: deactivation keeps the row (``deactivated = TRUE``) so the
ID stays taken (client-server-api "Account deactivation": the user ID cannot be
registered again).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ranvier.db.api import Database, UniqueViolation


@dataclass(frozen=True, slots=True)
class Account:
    """One local account."""

    user_id: str
    password_hash: str | None
    created_ts: int
    is_guest: bool
    is_admin: bool
    deactivated: bool
    user_type: str | None


class UserIdTaken(Exception):
    """The user ID already exists (registered or deactivated)."""


_COLUMNS = "user_id, password_hash, created_ts, is_guest, is_admin, deactivated, user_type"


def _row_to_account(row: tuple[object, ...]) -> Account:
    return Account(
        user_id=str(row[0]),
        password_hash=None if row[1] is None else str(row[1]),
        created_ts=int(row[2]),  # type: ignore[call-overload]
        is_guest=bool(row[3]),
        is_admin=bool(row[4]),
        deactivated=bool(row[5]),
        user_type=None if row[6] is None else str(row[6]),
    )


class AccountStore:
    """Reads and writes ``accounts``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        user_id: str,
        password_hash: str | None,
        *,
        is_guest: bool = False,
        is_admin: bool = False,
        user_type: str | None = None,
    ) -> Account:
        """Insert a new account; raise :class:`UserIdTaken` if the ID exists."""
        now = int(time.time() * 1000)
        try:
            async with self._db.transaction() as conn:
                exists = await conn.fetchone(
                    "SELECT 1 FROM accounts WHERE lower(user_id) = lower($1)", user_id
                )
                if exists is not None:
                    raise UserIdTaken(user_id)
                await conn.execute(
                    f"INSERT INTO accounts ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    user_id,
                    password_hash,
                    now,
                    is_guest,
                    is_admin,
                    False,
                    user_type,
                )
        except UniqueViolation:
            raise UserIdTaken(user_id) from None
        return Account(user_id, password_hash, now, is_guest, is_admin, False, user_type)

    async def get(self, user_id: str) -> Account | None:
        """The account for ``user_id`` (deactivated ones included) or None."""
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM accounts WHERE user_id = $1", user_id
        )
        return None if row is None else _row_to_account(row)

    async def get_case_insensitive(self, user_id: str) -> list[Account]:
        """Accounts whose ID equals ``user_id`` ignoring case (legacy mixed-case IDs)."""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM accounts WHERE lower(user_id) = lower($1)", user_id
        )
        return [_row_to_account(r) for r in rows]

    async def exists(self, user_id: str) -> bool:
        """True if the ID was ever registered (case-insensitively, so IDs stay distinct)."""
        row = await self._db.fetchone(
            "SELECT 1 FROM accounts WHERE lower(user_id) = lower($1)", user_id
        )
        return row is not None

    async def set_password_hash(self, user_id: str, password_hash: str | None) -> None:
        """Replace the stored password hash (None: password login disabled)."""
        await self._db.execute(
            "UPDATE accounts SET password_hash = $2 WHERE user_id = $1", user_id, password_hash
        )

    async def upgrade_guest(self, user_id: str, password_hash: str | None) -> bool:
        """Make a (not deactivated) guest account a full one with ``password_hash``;
        False if ``user_id`` is no such guest."""
        async with self._db.transaction() as conn:
            row = await conn.fetchone(
                "SELECT is_guest, deactivated FROM accounts WHERE user_id = $1", user_id
            )
            if row is None or not row[0] or row[1]:
                return False
            await conn.execute(
                "UPDATE accounts SET is_guest = $2, password_hash = $3 WHERE user_id = $1",
                user_id,
                False,
                password_hash,
            )
        return True

    async def set_admin(self, user_id: str, is_admin: bool) -> None:
        """Grant or revoke server admin."""
        await self._db.execute(
            "UPDATE accounts SET is_admin = $2 WHERE user_id = $1", user_id, is_admin
        )

    async def mark_deactivated(self, user_id: str) -> None:
        """Flag the account deactivated and forget its password hash."""
        await self._db.execute(
            "UPDATE accounts SET deactivated = $2, password_hash = NULL WHERE user_id = $1",
            user_id,
            True,
        )

    async def count(self) -> int:
        """Number of accounts (for metrics and admin)."""
        row = await self._db.fetchone("SELECT COUNT(*) FROM accounts")
        return 0 if row is None else int(row[0])

"""Password hashing with bcrypt, run in a worker thread so the event loop never blocks.

bcrypt only looks at the first 72 bytes of a password. bcrypt >= 5 raises on longer
input instead of truncating silently, so we truncate explicitly: that keeps hashes
written by Synapse, Dendrite or older bcrypt versions (``$2b$``, ``$2a$``, ``$2y$``)
verifiable, which matters when accounts are imported.
"""

from __future__ import annotations

import asyncio

import bcrypt

_MAX_BCRYPT_BYTES = 72


def _prepare(password: str) -> bytes:
    return password.encode("utf-8")[:_MAX_BCRYPT_BYTES]


def _hash_sync(password: str, cost: int) -> str:
    return bcrypt.hashpw(_prepare(password), bcrypt.gensalt(rounds=cost)).decode("ascii")


def _check_sync(password: str, password_hash: str) -> bool:
    stored = password_hash.encode("ascii", errors="replace")
    if stored.startswith(b"$2y$"):
        # PHP's $2y$ is the same algorithm as $2b$; normalise for libraries that
        # do not accept the prefix.
        stored = b"$2b$" + stored[4:]
    try:
        return bcrypt.checkpw(_prepare(password), stored)
    except ValueError:
        return False


async def hash_password(password: str, cost: int) -> str:
    """Return a ``$2b$`` bcrypt hash of ``password`` with ``cost`` rounds (4..31)."""
    return await asyncio.to_thread(_hash_sync, password, cost)


async def check_password(password: str, password_hash: str | None) -> bool:
    """True if ``password`` matches ``password_hash``; False for a missing or bad hash."""
    if not password_hash:
        return False
    return await asyncio.to_thread(_check_sync, password, password_hash)

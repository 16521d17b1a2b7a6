"""Storage of local users' cross-signing keys and of uploaded signatures (migration
``1100_e2ee_keys.sql``).

Spec: client-server-api "Cross-signing" (master, self-signing and user-signing keys,
``POST /keys/device_signing/upload``), ``POST /keys/signatures/upload`` and what
``POST /keys/query`` shows of them: "the signatures uploaded via
``/keys/signatures/upload`` that the requesting user is allowed to see".

Keys are stored as uploaded. Signatures are kept apart, one row per (signed key,
signer key), and merged into the key objects when they are read: a user's own
signatures (self-signing key over a device, a device over the master key) are shown to
everyone, another user's signature (a user-signing key over someone's master key)
only to that signer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from ranvier.core.events import JsonDict
from ranvier.db.api import Database

KEY_TYPES = ("master", "self_signing", "user_signing")


def public_key_of(key: JsonDict) -> str | None:
    """The public key (the part after ``ed25519:``) of a cross-signing key object."""
    keys = key.get("keys")
    if not isinstance(keys, dict) or len(keys) != 1:
        return None
    ((key_id, value),) = keys.items()
    if (
        not isinstance(key_id, str)
        or not key_id.startswith("ed25519:")
        or not isinstance(value, str)
    ):
        return None
    return value


class CrossSigningStore:
    """Reads and writes ``e2e_cross_signing_keys`` and ``e2e_signatures``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def keys(self, user_id: str) -> dict[str, JsonDict]:
        """``{key_type: key}`` of ``user_id`` as uploaded (without extra signatures)."""
        rows = await self.db.fetchall(
            "SELECT key_type, keys_json FROM e2e_cross_signing_keys WHERE user_id = $1", user_id
        )
        return {str(r[0]): orjson.loads(r[1]) for r in rows}

    async def set_keys(self, user_id: str, keys: dict[str, JsonDict]) -> None:
        """Store the given keys (``{key_type: key}``) in one transaction. A new master
        key drops the signatures made on the old one."""
        async with self.db.transaction() as conn:
            for key_type, key in keys.items():
                if key_type == "master":
                    await conn.execute(
                        "DELETE FROM e2e_signatures WHERE target_user_id = $1 AND target_key_id"
                        " NOT IN (SELECT device_id FROM e2e_device_keys WHERE user_id = $1)",
                        user_id,
                    )
                await conn.execute(
                    "INSERT INTO e2e_cross_signing_keys (user_id, key_type, keys_json)"
                    " VALUES ($1, $2, $3) ON CONFLICT (user_id, key_type) DO UPDATE SET"
                    " keys_json = EXCLUDED.keys_json",
                    user_id,
                    key_type,
                    orjson.dumps(key).decode(),
                )

    async def add_signatures(self, rows: Iterable[tuple[str, str, str, str, str]]) -> None:
        """Store ``(target_user_id, target_key_id, signer_user_id, signer_key_id,
        signature)`` rows, replacing an older signature of the same pair."""
        async with self.db.transaction() as conn:
            for row in rows:
                await conn.execute(
                    "INSERT INTO e2e_signatures (target_user_id, target_key_id, signer_user_id,"
                    " signer_key_id, signature) VALUES ($1, $2, $3, $4, $5)"
                    " ON CONFLICT (target_user_id, target_key_id, signer_user_id, signer_key_id)"
                    " DO UPDATE SET signature = EXCLUDED.signature",
                    *row,
                )

    async def signatures(
        self, target_user_id: str, viewer: str | None
    ) -> dict[str, dict[str, dict[str, str]]]:
        """``{target_key_id: {signer_user_id: {signer_key_id: signature}}}`` on
        ``target_user_id``'s keys that ``viewer`` may see: the target's own, and the
        viewer's (``viewer`` None: the target's own only, as told to other servers)."""
        rows = await self.db.fetchall(
            "SELECT target_key_id, signer_user_id, signer_key_id, signature FROM e2e_signatures"
            " WHERE target_user_id = $1 AND (signer_user_id = $1 OR signer_user_id = $2)",
            target_user_id,
            viewer if viewer is not None else target_user_id,
        )
        out: dict[str, dict[str, dict[str, str]]] = {}
        for key_id, signer, signer_key, sig in rows:
            out.setdefault(str(key_id), {}).setdefault(str(signer), {})[str(signer_key)] = str(sig)
        return out

    async def delete_device(self, user_id: str, device_id: str) -> None:
        """Forget the signatures on a deleted device."""
        await self.db.execute(
            "DELETE FROM e2e_signatures WHERE target_user_id = $1 AND target_key_id = $2",
            user_id,
            device_id,
        )


def with_signatures(key: JsonDict, extra: dict[str, dict[str, str]] | None) -> JsonDict:
    """A copy of ``key`` with ``extra`` (``{signer: {key_id: signature}}``) merged into
    its ``signatures``."""
    if not extra:
        return key
    out = dict(key)
    sigs: dict[str, Any] = {
        u: dict(s) for u, s in (key.get("signatures") or {}).items() if isinstance(s, dict)
    }
    for signer, by_key in extra.items():
        sigs.setdefault(signer, {}).update(by_key)
    out["signatures"] = sigs
    return out

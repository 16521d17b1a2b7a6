"""User profiles: display name, avatar URL, ``m.tz`` and custom fields (client-server-api
"Profiles"; profile.yaml, extended profile fields added in v1.16).

A profile is a JSON object stored one row per field. Rules enforced here:
field names follow ``avatar_url | displayname | m.tz | namespaced`` (the Common
Namespaced Identifier Grammar) and are at most 255 bytes (``M_KEY_TOO_LARGE``);
``displayname``, ``avatar_url`` and ``m.tz`` must be strings, ``avatar_url`` a URI
(no whitespace or control characters) of at most 1,000 characters. "For avatar_url,
the value MUST be an MXC URI string" binds the client; the endpoint's listed errors have
none for another scheme, and Synapse stores any string (older clients and bridges set
``https://`` avatars), so the scheme is not checked; the whole profile, as canonical
JSON, stays under 64 KiB
(``M_PROFILE_TOO_LARGE``). An empty ``displayname``/``avatar_url`` clears it (what
legacy clients send to remove them). Other components (room membership updates,
presence) subscribe with :meth:`ProfileService.add_listener`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from ranvier.db.api import Database
from ranvier.http.types import MatrixError

MAX_PROFILE_BYTES = 64 * 1024
MAX_KEY_BYTES = 255
MAX_DISPLAYNAME_CHARS = 256
MAX_AVATAR_URL_CHARS = 1000

_NOT_URI_CHAR = re.compile(r"[\s\x00-\x1f\x7f]")
"""Whitespace and control characters, which no URI holds (RFC 3986)."""
_KEY_RE = re.compile(r"^(avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$")

ProfileListener = Callable[[str, dict[str, Any]], Awaitable[None]]


def validate_key(key: str) -> None:
    """Raise the spec's error for a bad profile field name."""
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise MatrixError(400, "M_KEY_TOO_LARGE", "Profile key exceeds 255 bytes")
    if _KEY_RE.fullmatch(key) is None:
        raise MatrixError(400, "M_INVALID_PARAM", "Invalid profile key")


def validate_value(key: str, value: Any) -> None:
    """Raise ``M_BAD_JSON``/``M_INVALID_PARAM`` if ``value`` does not suit ``key``."""
    if key in ("displayname", "avatar_url", "m.tz") and not isinstance(value, str):
        raise MatrixError(400, "M_BAD_JSON", f"'{key}' must be a string")
    if key == "displayname" and len(value) > MAX_DISPLAYNAME_CHARS:
        raise MatrixError(400, "M_INVALID_PARAM", "Display name is too long")
    if key == "avatar_url" and (
        len(value) > MAX_AVATAR_URL_CHARS or _NOT_URI_CHAR.search(value) is not None
    ):
        raise MatrixError(400, "M_INVALID_PARAM", "avatar_url must be a URI")


def _size(profile: dict[str, Any]) -> int:
    return len(orjson.dumps(profile, option=orjson.OPT_SORT_KEYS))


class ProfileStore:
    """Reads and writes ``profile_fields``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, user_id: str) -> dict[str, Any]:
        """All fields of a user's profile (empty if none)."""
        rows = await self._db.fetchall(
            "SELECT field, value FROM profile_fields WHERE user_id = $1", user_id
        )
        return {str(r[0]): orjson.loads(r[1]) for r in rows}

    async def get_field(self, user_id: str, key: str) -> tuple[bool, Any]:
        """``(found, value)`` for one field."""
        row = await self._db.fetchone(
            "SELECT value FROM profile_fields WHERE user_id = $1 AND field = $2", user_id, key
        )
        return (False, None) if row is None else (True, orjson.loads(row[0]))

    async def set_field(self, user_id: str, key: str, value: Any) -> None:
        """Insert or replace one field."""
        await self._db.execute(
            "INSERT INTO profile_fields (user_id, field, value) VALUES ($1, $2, $3) "
            "ON CONFLICT (user_id, field) DO UPDATE SET value = EXCLUDED.value",
            user_id,
            key,
            orjson.dumps(value).decode(),
        )

    async def delete_field(self, user_id: str, key: str) -> None:
        """Remove one field (no error if absent)."""
        await self._db.execute(
            "DELETE FROM profile_fields WHERE user_id = $1 AND field = $2", user_id, key
        )

    async def clear(self, user_id: str) -> None:
        """Remove the whole profile (account erasure)."""
        await self._db.execute("DELETE FROM profile_fields WHERE user_id = $1", user_id)


class ProfileService:
    """Validated profile changes, with change notifications."""

    def __init__(self, store: ProfileStore) -> None:
        self.store = store
        self._listeners: list[ProfileListener] = []

    def add_listener(self, listener: ProfileListener) -> None:
        """Call ``await listener(user_id, new_profile)`` after every change."""
        self._listeners.append(listener)

    async def _notify(self, user_id: str) -> None:
        if not self._listeners:
            return
        profile = await self.store.get(user_id)
        for listener in self._listeners:
            await listener(user_id, profile)

    async def set_field(self, user_id: str, key: str, value: Any) -> None:
        """Validate and store one field; an empty displayname/avatar_url clears it."""
        validate_key(key)
        validate_value(key, value)
        if key in ("displayname", "avatar_url") and value == "":
            await self.store.delete_field(user_id, key)
        else:
            profile = await self.store.get(user_id)
            profile[key] = value
            if _size(profile) >= MAX_PROFILE_BYTES:
                raise MatrixError(400, "M_PROFILE_TOO_LARGE", "Profile would exceed 64 KiB")
            await self.store.set_field(user_id, key, value)
        await self._notify(user_id)

    async def delete_field(self, user_id: str, key: str) -> None:
        """Validate the key and remove the field."""
        validate_key(key)
        await self.store.delete_field(user_id, key)
        await self._notify(user_id)

    async def erase(self, user_id: str) -> None:
        """Remove the whole profile."""
        await self.store.clear(user_id)
        await self._notify(user_id)

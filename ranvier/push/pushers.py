"""Pushers: where a user's notifications go (client-server-api "Push Notifications",
``GET /pushers`` and ``POST /pushers/set``, pusher.yaml).

Theory of operation
-------------------
A pusher is unique per ``(user, app_id, pushkey)``. :func:`parse_pusher` validates a
``/pushers/set`` body: ``kind`` null deletes; otherwise ``kind`` is ``http`` or
``email``, ``app_id`` (at most 64 characters), ``pushkey`` (at most 512 bytes),
``app_display_name``, ``device_display_name``, ``lang`` and ``data`` are required
(400 ``M_MISSING_PARAM``) and typed (400 ``M_INVALID_PARAM``; strings without U+0000,
which PostgreSQL cannot store); an ``http`` pusher's
``data.url`` must be an absolute http(s) URL whose path is ``/_matrix/push/v1/notify``.
(The spec says HTTPS; plain HTTP is accepted so that gateways on loopback and test
suites work, as Synapse does.) Without ``append`` (the default) setting a pusher
removes pushers of other users with the same ``app_id`` and ``pushkey``: a push key
belongs to one account at a time.

Each pusher remembers the device whose access token created it; when that device is
deleted (logout, ``/logout/all``, a password change that logs other devices out,
device deletion, deactivation) its pushers go too, which is what Sytest's
"Pushers created with a different access token are deleted on password change"
checks. Pushers are also kept in memory per user (loaded once), because the
processor asks "does this user have pushers?" for every notification.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from ranvier.core.events import JsonDict
from ranvier.db.api import Database
from ranvier.http.types import MatrixError

NOTIFY_PATH = "/_matrix/push/v1/notify"
MAX_APP_ID = 64
MAX_PUSHKEY_BYTES = 512


@dataclass(frozen=True, slots=True)
class Pusher:
    """One stored pusher."""

    user_id: str
    app_id: str
    pushkey: str
    kind: str
    app_display_name: str
    device_display_name: str
    profile_tag: str | None
    lang: str
    data: JsonDict
    device_id: str | None
    pushkey_ts: int

    def to_client(self) -> JsonDict:
        """The pusher as ``GET /pushers`` lists it."""
        out: JsonDict = {
            "pushkey": self.pushkey,
            "kind": self.kind,
            "app_id": self.app_id,
            "app_display_name": self.app_display_name,
            "device_display_name": self.device_display_name,
            "lang": self.lang,
            "data": self.data,
        }
        if self.profile_tag is not None:
            out["profile_tag"] = self.profile_tag
        return out


@dataclass(frozen=True, slots=True)
class PusherRequest:
    """A validated ``/pushers/set`` body (``pusher`` None: delete)."""

    app_id: str
    pushkey: str
    pusher: Pusher | None
    append: bool


def _required_str(body: JsonDict, name: str) -> str:
    if name not in body or body[name] is None:
        raise MatrixError(400, "M_MISSING_PARAM", f"Missing parameter: {name}")
    value = body[name]
    if not isinstance(value, str) or "\x00" in value:
        raise MatrixError(400, "M_INVALID_PARAM", f"{name} must be a string without NUL")
    return value


def check_gateway_url(url: Any) -> str:
    """``data.url`` of an http pusher (400 ``M_INVALID_PARAM`` unless an absolute
    http(s) URL with the path ``/_matrix/push/v1/notify``)."""
    if url is None:
        raise MatrixError(400, "M_MISSING_PARAM", "'url' required in data for HTTP pushers")
    if not isinstance(url, str):
        raise MatrixError(400, "M_INVALID_PARAM", "'url' must be a string")
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        raise MatrixError(400, "M_INVALID_PARAM", "'url' is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MatrixError(400, "M_INVALID_PARAM", "'url' must be an http(s) URL")
    if parts.path != NOTIFY_PATH:
        raise MatrixError(400, "M_INVALID_PARAM", f"'url' must have the path {NOTIFY_PATH}")
    return url


def parse_pusher(user_id: str, device_id: str | None, body: JsonDict) -> PusherRequest:
    """Validate a ``POST /pushers/set`` body (module docstring)."""
    app_id = _required_str(body, "app_id")
    pushkey = _required_str(body, "pushkey")
    if not app_id or len(app_id) > MAX_APP_ID:
        raise MatrixError(400, "M_INVALID_PARAM", f"app_id must be 1 to {MAX_APP_ID} characters")
    if not pushkey or len(pushkey.encode("utf-8")) > MAX_PUSHKEY_BYTES:
        raise MatrixError(400, "M_INVALID_PARAM", "pushkey must be 1 to 512 bytes")
    append = body.get("append", False)
    if not isinstance(append, bool):
        raise MatrixError(400, "M_INVALID_PARAM", "append must be a boolean")
    if "kind" not in body:
        raise MatrixError(400, "M_MISSING_PARAM", "Missing parameter: kind")
    kind = body["kind"]
    if kind is None:
        return PusherRequest(app_id, pushkey, None, append)
    if kind not in ("http", "email"):
        raise MatrixError(400, "M_INVALID_PARAM", "kind must be 'http', 'email' or null")
    app_display_name = _required_str(body, "app_display_name")
    device_display_name = _required_str(body, "device_display_name")
    lang = _required_str(body, "lang")
    profile_tag = body.get("profile_tag")
    if profile_tag is not None and (not isinstance(profile_tag, str) or "\x00" in profile_tag):
        raise MatrixError(400, "M_INVALID_PARAM", "profile_tag must be a string without NUL")
    if "data" not in body:
        raise MatrixError(400, "M_MISSING_PARAM", "Missing parameter: data")
    data = body["data"]
    if not isinstance(data, dict):
        raise MatrixError(400, "M_INVALID_PARAM", "data must be an object")
    if kind == "http":
        check_gateway_url(data.get("url"))
        fmt = data.get("format")
        if fmt is not None and not isinstance(fmt, str):
            raise MatrixError(400, "M_INVALID_PARAM", "data.format must be a string")
    pusher = Pusher(
        user_id=user_id,
        app_id=app_id,
        pushkey=pushkey,
        kind=kind,
        app_display_name=app_display_name,
        device_display_name=device_display_name,
        profile_tag=profile_tag,
        lang=lang,
        data=dict(data),
        device_id=device_id,
        pushkey_ts=int(time.time()),
    )
    return PusherRequest(app_id, pushkey, pusher, append)


_COLUMNS = (
    "user_id, app_id, pushkey, kind, app_display_name, device_display_name, profile_tag, "
    "lang, data, device_id, pushkey_ts"
)


def _row_to_pusher(row: Any) -> Pusher:
    return Pusher(
        user_id=str(row[0]),
        app_id=str(row[1]),
        pushkey=str(row[2]),
        kind=str(row[3]),
        app_display_name=str(row[4]),
        device_display_name=str(row[5]),
        profile_tag=None if row[6] is None else str(row[6]),
        lang=str(row[7]),
        data=dict(orjson.loads(row[8])),
        device_id=None if row[9] is None else str(row[9]),
        pushkey_ts=int(row[10]),
    )


class PusherStore:
    """The ``pushers`` table with an in-memory copy per user (module docstring)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._by_user: dict[str, list[Pusher]] | None = None

    async def _all(self) -> dict[str, list[Pusher]]:
        if self._by_user is None:
            rows = await self.db.fetchall(f"SELECT {_COLUMNS} FROM pushers ORDER BY pushkey_ts")
            by_user: dict[str, list[Pusher]] = {}
            for row in rows:
                p = _row_to_pusher(row)
                by_user.setdefault(p.user_id, []).append(p)
            self._by_user = by_user
        return self._by_user

    async def for_user(self, user_id: str) -> list[Pusher]:
        """The user's pushers (oldest first)."""
        return list((await self._all()).get(user_id, ()))

    async def has_pushers(self, user_id: str) -> bool:
        """Whether the user has any pusher."""
        return bool((await self._all()).get(user_id))

    async def users_with_pushers(self) -> dict[str, list[Pusher]]:
        """``{user_id: pushers}`` of every user with a pusher (do not modify)."""
        return await self._all()

    def _forget(self) -> None:
        self._by_user = None

    async def apply(self, request: PusherRequest, user_id: str) -> None:
        """Create, replace or delete a pusher as ``/pushers/set`` asks."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "DELETE FROM pushers WHERE user_id = $1 AND app_id = $2 AND pushkey = $3",
                user_id,
                request.app_id,
                request.pushkey,
            )
            p = request.pusher
            if p is not None:
                if not request.append:
                    await conn.execute(
                        "DELETE FROM pushers WHERE app_id = $1 AND pushkey = $2 AND user_id <> $3",
                        request.app_id,
                        request.pushkey,
                        user_id,
                    )
                await conn.execute(
                    f"INSERT INTO pushers ({_COLUMNS}) VALUES "
                    "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    p.user_id,
                    p.app_id,
                    p.pushkey,
                    p.kind,
                    p.app_display_name,
                    p.device_display_name,
                    p.profile_tag,
                    p.lang,
                    orjson.dumps(p.data).decode(),
                    p.device_id,
                    p.pushkey_ts,
                )
        self._forget()

    async def delete(self, user_id: str, app_id: str, pushkey: str) -> None:
        """Delete one pusher (a gateway rejected its push key)."""
        await self.db.execute(
            "DELETE FROM pushers WHERE user_id = $1 AND app_id = $2 AND pushkey = $3",
            user_id,
            app_id,
            pushkey,
        )
        self._forget()

    async def delete_for_devices(self, user_id: str, device_ids: list[str]) -> None:
        """Delete the pushers created by tokens of these devices."""
        if not device_ids:
            return
        async with self.db.transaction() as conn:
            for device_id in device_ids:
                await conn.execute(
                    "DELETE FROM pushers WHERE user_id = $1 AND device_id = $2",
                    user_id,
                    device_id,
                )
        self._forget()

    async def on_device_change(self, user_id: str, device_ids: list[str], change: str) -> None:
        """A :data:`ranvier.users.service.DeviceListener`: deleted devices take their
        pushers with them."""
        if change == "deleted":
            await self.delete_for_devices(user_id, device_ids)

"""Stored sync filters (client-server-api "Filtering"; filter.yaml, definitions/
sync_filter.yaml, room_event_filter.yaml, event_filter.yaml).

:func:`validate_filter` checks the shape of an uploaded filter against the spec's
schema (types of every known key, ``event_format`` enum, ``limit`` an integer, the
entries of ``senders``/``not_senders`` user IDs and of ``rooms``/``not_rooms`` room
IDs) and raises 400 ``M_BAD_JSON`` naming the offending path. ``limit`` may be 0 although
event_filter.yaml says "greater than 0": clients ask for ``timeline.limit: 0`` to sync
state without events, Synapse serves it, and the meaning (no events) is clear; negative
limits are refused. Unknown keys are
kept, as the schema allows additional properties. Filters are stored per user with
small increasing decimal IDs; uploading the same filter twice returns the same ID
(clients upload their filter on every start).
"""

from __future__ import annotations

from typing import Any

import orjson

from ranvier.core.ids import InvalidIdentifier, parse_room_id, parse_user_id
from ranvier.db.api import Database
from ranvier.http.types import MatrixError

_EVENT_FILTER_LISTS = ("not_senders", "not_types", "senders", "types")
_ROOM_EVENT_FILTER_LISTS = ("not_rooms", "rooms")
_ROOM_EVENT_FILTER_BOOLS = (
    "unread_thread_notifications",
    "lazy_load_members",
    "include_redundant_members",
    "contains_url",
)


def _bad(path: str, expected: str) -> MatrixError:
    return MatrixError(400, "M_BAD_JSON", f"Filter field '{path}' must be {expected}")


def _check_string_list(obj: dict[str, Any], key: str, path: str) -> None:
    if key in obj:
        value = obj[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _bad(f"{path}{key}", "an array of strings")


def _check_ids(obj: dict[str, Any], keys: tuple[str, ...], path: str, what: str) -> None:
    """The entries of ``keys`` must be valid user IDs (``what`` "user") or room IDs: a
    filter naming ``not_a_room_id`` would silently match nothing."""
    parse = parse_user_id if what == "user" else parse_room_id
    for key in keys:
        for value in obj.get(key) or ():
            try:
                parse(value)
            except InvalidIdentifier as exc:
                raise _bad(f"{path}{key}", f"a list of {what} IDs ({exc})") from None


def _check_event_filter(obj: Any, path: str) -> None:
    if not isinstance(obj, dict):
        raise _bad(path.rstrip("."), "an object")
    if "limit" in obj:
        limit = obj["limit"]
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise _bad(f"{path}limit", "a non-negative integer")
    for key in _EVENT_FILTER_LISTS:
        _check_string_list(obj, key, path)
    _check_ids(obj, ("senders", "not_senders"), path, "user")


def _check_room_event_filter(obj: Any, path: str) -> None:
    _check_event_filter(obj, path)
    for key in _ROOM_EVENT_FILTER_LISTS:
        _check_string_list(obj, key, path)
    _check_ids(obj, _ROOM_EVENT_FILTER_LISTS, path, "room")
    for key in _ROOM_EVENT_FILTER_BOOLS:
        if key in obj and not isinstance(obj[key], bool):
            raise _bad(f"{path}{key}", "a boolean")


def validate_filter(obj: Any) -> None:
    """Raise 400 ``M_BAD_JSON`` if ``obj`` is not a well-formed sync filter."""
    if not isinstance(obj, dict):
        raise MatrixError(400, "M_BAD_JSON", "A filter must be a JSON object")
    _check_string_list(obj, "event_fields", "")
    if "event_format" in obj and obj["event_format"] not in ("client", "federation"):
        raise _bad("event_format", "'client' or 'federation'")
    for key in ("presence", "account_data"):
        if key in obj:
            _check_event_filter(obj[key], f"{key}.")
    if "room" in obj:
        room = obj["room"]
        if not isinstance(room, dict):
            raise _bad("room", "an object")
        for key in _ROOM_EVENT_FILTER_LISTS:
            _check_string_list(room, key, "room.")
        _check_ids(room, _ROOM_EVENT_FILTER_LISTS, "room.", "room")
        if "include_leave" in room and not isinstance(room["include_leave"], bool):
            raise _bad("room.include_leave", "a boolean")
        for key in ("ephemeral", "state", "timeline", "account_data"):
            if key in room:
                _check_room_event_filter(room[key], f"room.{key}.")


class FilterStore:
    """Reads and writes ``user_filters``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, user_id: str, filter_json: dict[str, Any]) -> str:
        """Store a (validated) filter; return its ID, reusing the ID of an identical one."""
        text = orjson.dumps(filter_json, option=orjson.OPT_SORT_KEYS).decode()
        async with self._db.transaction() as conn:
            same = await conn.fetchone(
                "SELECT filter_id FROM user_filters WHERE user_id = $1 AND filter_json = $2",
                user_id,
                text,
            )
            if same is not None:
                return str(same[0])
            rows = await conn.fetchall(
                "SELECT filter_id FROM user_filters WHERE user_id = $1", user_id
            )
            next_id = max((int(r[0]) for r in rows), default=-1) + 1
            await conn.execute(
                "INSERT INTO user_filters (user_id, filter_id, filter_json) VALUES ($1, $2, $3)",
                user_id,
                str(next_id),
                text,
            )
        return str(next_id)

    async def get(self, user_id: str, filter_id: str) -> dict[str, Any] | None:
        """A stored filter or None."""
        row = await self._db.fetchone(
            "SELECT filter_json FROM user_filters WHERE user_id = $1 AND filter_id = $2",
            user_id,
            filter_id,
        )
        return None if row is None else dict(orjson.loads(row[0]))

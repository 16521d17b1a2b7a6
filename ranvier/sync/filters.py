"""Applying filters to events (client-server-api "Filtering"; definitions/sync_filter.yaml,
room_event_filter.yaml, event_filter.yaml).

Stored and inline filters are validated by :func:`ranvier.users.filters.validate_filter`
(400 ``M_BAD_JSON``) and parsed here into frozen records:

* :class:`EventFilter`: ``types``/``not_types`` (``*`` matches any run of characters),
  ``senders``/``not_senders`` and ``limit``; a ``not_`` list wins over its positive
  list; an absent list allows everything, an empty positive list allows nothing;
* :class:`RoomEventFilter`: adds ``rooms``/``not_rooms``, ``contains_url``,
  ``lazy_load_members`` and ``include_redundant_members``;
* :class:`RoomFilter` (``room``): which rooms, ``include_leave``, and one
  :class:`RoomEventFilter` per section (``timeline``, ``state``, ``ephemeral``,
  ``account_data``);
* :class:`SyncFilter`: ``event_fields`` (dot-separated paths with ``\\`` escapes,
  appendices "Dot-separated property paths"), ``event_format``, ``presence``,
  ``account_data`` and ``room``.

:func:`resolve_sync_filter` turns the ``filter`` query parameter of ``/sync`` (an id or
inline JSON) into a :class:`SyncFilter`; :func:`parse_room_event_filter_param` does the
same for the JSON ``filter`` of ``/messages`` and ``/context``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson

from ranvier.core.events import Event, JsonDict
from ranvier.core.property_paths import split_path
from ranvier.http.types import MatrixError
from ranvier.users.filters import FilterStore, validate_filter

DEFAULT_TIMELINE_LIMIT = 10
"""Timeline events per room when the filter sets no ``limit``."""
MAX_LIMIT = 1000
"""The most events any filter ``limit`` may ask for at once."""


@lru_cache(maxsize=4096)
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(p) for p in pattern.split("*")), re.DOTALL)


def type_matches(event_type: str, patterns: Iterable[str]) -> bool:
    """Whether ``event_type`` matches one of ``patterns`` (``*`` is a wildcard)."""
    return any(
        p == event_type or ("*" in p and _glob(p).fullmatch(event_type) is not None)
        for p in patterns
    )


def _strs(obj: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    value = obj.get(key)
    return None if value is None else tuple(value)


@dataclass(frozen=True, slots=True)
class EventFilter:
    """An ``EventFilter``: by type and sender, with a limit."""

    limit: int | None = None
    types: tuple[str, ...] | None = None
    not_types: tuple[str, ...] = ()
    senders: tuple[str, ...] | None = None
    not_senders: tuple[str, ...] = ()

    @classmethod
    def parse(cls, obj: Mapping[str, Any] | None) -> EventFilter:
        """From validated JSON (None: the empty filter)."""
        obj = obj or {}
        limit = obj.get("limit")
        return cls(
            None if limit is None else min(int(limit), MAX_LIMIT),
            _strs(obj, "types"),
            _strs(obj, "not_types") or (),
            _strs(obj, "senders"),
            _strs(obj, "not_senders") or (),
        )

    def allows(self, event_type: str, sender: str | None) -> bool:
        """Whether an event of ``event_type`` sent by ``sender`` passes."""
        if self.not_types and type_matches(event_type, self.not_types):
            return False
        if self.types is not None and not type_matches(event_type, self.types):
            return False
        if sender is not None:
            if sender in self.not_senders:
                return False
            if self.senders is not None and sender not in self.senders:
                return False
        return True

    def filter_json(self, events: Iterable[JsonDict]) -> list[JsonDict]:
        """The events (``{"type", "sender"?}`` dicts) that pass, up to ``limit``."""
        out = [e for e in events if self.allows(str(e.get("type")), e.get("sender"))]
        return out if self.limit is None else out[: self.limit]


@dataclass(frozen=True, slots=True)
class RoomEventFilter(EventFilter):
    """A ``RoomEventFilter``: an :class:`EventFilter` plus rooms, urls and lazy loading."""

    rooms: tuple[str, ...] | None = None
    not_rooms: tuple[str, ...] = ()
    contains_url: bool | None = None
    lazy_load_members: bool = False
    include_redundant_members: bool = False
    unread_thread_notifications: bool = False
    """Per-thread notification counts in ``/sync`` (push counts them)."""

    @classmethod
    def parse(cls, obj: Mapping[str, Any] | None) -> RoomEventFilter:
        """From validated JSON (None: the empty filter)."""
        obj = obj or {}
        base = EventFilter.parse(obj)
        return cls(
            base.limit,
            base.types,
            base.not_types,
            base.senders,
            base.not_senders,
            _strs(obj, "rooms"),
            _strs(obj, "not_rooms") or (),
            obj.get("contains_url"),
            bool(obj.get("lazy_load_members", False)),
            bool(obj.get("include_redundant_members", False)),
            obj.get("unread_thread_notifications") is True,
        )

    def allows_room(self, room_id: str) -> bool:
        """Whether events of ``room_id`` may pass."""
        if room_id in self.not_rooms:
            return False
        return self.rooms is None or room_id in self.rooms

    def allows_event(self, event: Event) -> bool:
        """Whether ``event`` passes every condition (except ``limit``)."""
        if not self.allows(event.type, event.sender) or not self.allows_room(event.room_id):
            return False
        if self.contains_url is not None:
            return ("url" in event.content) == self.contains_url
        return True


@dataclass(frozen=True, slots=True)
class RoomFilter:
    """The ``room`` part of a sync filter."""

    rooms: tuple[str, ...] | None = None
    not_rooms: tuple[str, ...] = ()
    include_leave: bool = False
    timeline: RoomEventFilter = field(default_factory=RoomEventFilter)
    state: RoomEventFilter = field(default_factory=RoomEventFilter)
    ephemeral: RoomEventFilter = field(default_factory=RoomEventFilter)
    account_data: RoomEventFilter = field(default_factory=RoomEventFilter)

    @classmethod
    def parse(cls, obj: Mapping[str, Any] | None) -> RoomFilter:
        """From validated JSON (None: the empty filter)."""
        obj = obj or {}
        return cls(
            _strs(obj, "rooms"),
            _strs(obj, "not_rooms") or (),
            bool(obj.get("include_leave", False)),
            RoomEventFilter.parse(obj.get("timeline")),
            RoomEventFilter.parse(obj.get("state")),
            RoomEventFilter.parse(obj.get("ephemeral")),
            RoomEventFilter.parse(obj.get("account_data")),
        )

    def allows_room(self, room_id: str) -> bool:
        """Whether ``room_id`` is included in the sync at all."""
        if room_id in self.not_rooms:
            return False
        return self.rooms is None or room_id in self.rooms

    @property
    def timeline_limit(self) -> int:
        """How many timeline events per room (0: none, only state and the rest)."""
        limit = self.timeline.limit
        return DEFAULT_TIMELINE_LIMIT if limit is None else limit


@dataclass(frozen=True, slots=True)
class SyncFilter:
    """A whole filter (``POST /user/{userId}/filter`` body)."""

    event_fields: tuple[tuple[str, ...], ...] | None = None
    event_format: str = "client"
    presence: EventFilter = field(default_factory=EventFilter)
    account_data: EventFilter = field(default_factory=EventFilter)
    room: RoomFilter = field(default_factory=RoomFilter)

    @classmethod
    def parse(cls, obj: Mapping[str, Any]) -> SyncFilter:
        """From validated JSON."""
        fields = obj.get("event_fields")
        return cls(
            None if fields is None else tuple(split_path(f) for f in fields),
            str(obj.get("event_format", "client")),
            EventFilter.parse(obj.get("presence")),
            EventFilter.parse(obj.get("account_data")),
            RoomFilter.parse(obj.get("room")),
        )

    def project(self, event: JsonDict) -> JsonDict:
        """``event`` reduced to ``event_fields`` (unchanged when there are none)."""
        if self.event_fields is None:
            return event
        return project_fields(event, self.event_fields)


def project_fields(event: Mapping[str, Any], paths: Sequence[tuple[str, ...]]) -> JsonDict:
    """A copy of ``event`` with only the properties named by ``paths``."""
    out: JsonDict = {}
    for path in paths:
        src: Any = event
        for key in path:
            if not isinstance(src, Mapping) or key not in src:
                break
            src = src[key]
        else:
            dst = out
            for key in path[:-1]:
                nxt = dst.get(key)
                if not isinstance(nxt, dict):
                    nxt = dst[key] = {}
                dst = nxt
            dst[path[-1]] = src
    return out


def _decode_inline(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise MatrixError(400, "M_NOT_JSON", "The filter is not valid JSON") from None


async def resolve_sync_filter(store: FilterStore, user_id: str, param: str | None) -> SyncFilter:
    """The filter named by ``/sync``'s ``filter`` parameter: inline JSON when it starts
    with ``{`` (400 ``M_NOT_JSON`` / ``M_BAD_JSON``), else a stored filter id (404
    ``M_NOT_FOUND``; 400 ``M_INVALID_PARAM`` for an id this server never hands out)."""
    if param is None or param == "":
        return SyncFilter()
    if param.startswith("{"):
        obj = _decode_inline(param)
        validate_filter(obj)
        return SyncFilter.parse(obj)
    if not param.isascii() or not param.isdigit():
        raise MatrixError(400, "M_INVALID_PARAM", "Invalid filter ID")
    found = await store.get(user_id, param)
    if found is None:
        raise MatrixError(404, "M_NOT_FOUND", "No such filter")
    return SyncFilter.parse(found)


def parse_room_event_filter_param(param: str | None) -> RoomEventFilter:
    """The JSON ``RoomEventFilter`` of ``/messages`` or ``/context`` (400 ``M_NOT_JSON``
    or ``M_BAD_JSON``)."""
    if param is None or param == "":
        return RoomEventFilter()
    obj = _decode_inline(param)
    if not isinstance(obj, dict):
        raise MatrixError(400, "M_BAD_JSON", "A filter must be a JSON object")
    validate_filter({"room": {"timeline": obj}})
    return RoomEventFilter.parse(obj)

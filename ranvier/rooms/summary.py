"""Room summaries: what the published room directory and the space hierarchy say about a room.

Spec: client-server-api "Listing rooms" (``PublishedRoomsChunk``,
definitions/public_rooms_chunk.yaml) and "Spaces" (``RoomSummary``,
definitions/room_summary.yaml, which adds ``room_type``, ``allowed_room_ids``,
``encryption`` and ``room_version``). Every field comes from the room's current state:
``m.room.name``, ``m.room.topic`` (the ``text/plain`` representation: ``m.topic``'s
``text/plain`` block, else ``topic``), ``m.room.avatar``, ``m.room.canonical_alias``,
``m.room.join_rules`` (absent: ``public``, as the chunk schema says),
``m.room.history_visibility`` (``world_readable``), ``m.room.guest_access``
(``can_join``), ``m.room.encryption`` and the create event's ``type``; the joined
member count comes from the membership index.

Summaries are cached by ``(room, snapshot)``: a state change makes a new snapshot,
so a cached summary is never stale, and the directory lists many rooms cheaply.
"""

from __future__ import annotations

from typing import Any

from ranvier.core.events import Event, JsonDict, StateKey
from ranvier.rooms.event_store import RoomInfo
from ranvier.rooms.lru import LruCache
from ranvier.rooms.storage import RoomStorage

SUMMARY_KEYS: list[StateKey] = [
    ("m.room.create", ""),
    ("m.room.name", ""),
    ("m.room.topic", ""),
    ("m.room.avatar", ""),
    ("m.room.canonical_alias", ""),
    ("m.room.join_rules", ""),
    ("m.room.history_visibility", ""),
    ("m.room.guest_access", ""),
    ("m.room.encryption", ""),
]


def plain_topic(content: dict[str, Any]) -> str | None:
    """The ``text/plain`` topic of an ``m.room.topic`` content, or None."""
    block = content.get("m.topic")
    texts = block.get("m.text") if isinstance(block, dict) else None
    if isinstance(texts, list):
        for text in texts:
            if not isinstance(text, dict):
                continue
            mimetype = text.get("mimetype", "text/plain")
            body = text.get("body")
            if mimetype == "text/plain" and isinstance(body, str) and body:
                return body
    topic = content.get("topic")
    return topic if isinstance(topic, str) and topic else None


def allowed_room_ids(join_rules: Event | None) -> list[str]:
    """The room ids of the ``m.room_membership`` allow conditions of a restricted room
    (client-server-api "Restricted rooms")."""
    if join_rules is None:
        return []
    if join_rules.content.get("join_rule") not in ("restricted", "knock_restricted"):
        return []
    allow = join_rules.content.get("allow")
    out: list[str] = []
    if isinstance(allow, list):
        for cond in allow:
            if (
                isinstance(cond, dict)
                and cond.get("type") == "m.room_membership"
                and isinstance(cond.get("room_id"), str)
            ):
                out.append(cond["room_id"])
    return out


def summarise(room: RoomInfo, state: dict[StateKey, Event], joined: int) -> JsonDict:
    """The summary of ``room`` from its ``state`` (see the module docstring)."""

    def content(event_type: str) -> dict[str, Any]:
        ev = state.get((event_type, ""))
        return ev.content if ev is not None else {}

    out: JsonDict = {"room_id": room.room_id, "num_joined_members": joined}
    name = content("m.room.name").get("name")
    if isinstance(name, str) and name:
        out["name"] = name
    topic = plain_topic(content("m.room.topic"))
    if topic is not None:
        out["topic"] = topic
    avatar = content("m.room.avatar").get("url")
    if isinstance(avatar, str) and avatar:
        out["avatar_url"] = avatar
    alias = content("m.room.canonical_alias").get("alias")
    if isinstance(alias, str) and alias:
        out["canonical_alias"] = alias
    out["world_readable"] = (
        content("m.room.history_visibility").get("history_visibility") == "world_readable"
    )
    out["guest_can_join"] = content("m.room.guest_access").get("guest_access") == "can_join"
    join_rule = content("m.room.join_rules").get("join_rule")
    out["join_rule"] = join_rule if isinstance(join_rule, str) else "public"
    room_type = content("m.room.create").get("type")
    if isinstance(room_type, str):
        out["room_type"] = room_type
    allowed = allowed_room_ids(state.get(("m.room.join_rules", "")))
    if allowed:
        out["allowed_room_ids"] = allowed
    algorithm = content("m.room.encryption").get("algorithm")
    if isinstance(algorithm, str):
        out["encryption"] = algorithm
    out["room_version"] = room.room_version.identifier
    return out


PUBLIC_CHUNK_KEYS = frozenset(
    {
        "room_id",
        "num_joined_members",
        "name",
        "topic",
        "avatar_url",
        "canonical_alias",
        "world_readable",
        "guest_can_join",
        "join_rule",
        "room_type",
    }
)
"""The keys of a ``PublishedRoomsChunk`` (the summary without the hierarchy extras)."""


class RoomSummaries:
    """Summaries of local rooms, cached per state snapshot."""

    def __init__(self, storage: RoomStorage, cache_size: int = 4096) -> None:
        self.storage = storage
        self._cache: LruCache[tuple[int, int], tuple[JsonDict, int]] = LruCache(cache_size)

    async def joined_count(self, room_nid: int) -> int:
        """The number of joined members of the room."""
        row = await self.storage.db.fetchone(
            "SELECT COUNT(*) FROM room_memberships WHERE room_nid = $1 AND membership = 'join'",
            room_nid,
        )
        return 0 if row is None else int(row[0])

    async def summary(self, room: RoomInfo) -> JsonDict:
        """The summary of ``room`` (a fresh dict the caller may change)."""
        snapshot = await self.storage.current_state(room.nid)
        key = (room.nid, snapshot.nid)
        cached = self._cache.get(key)
        if cached is None:
            state = await self.storage.state_events(snapshot, SUMMARY_KEYS)
            joined = await self.joined_count(room.nid)
            cached = (summarise(room, state, joined), joined)
            self._cache.put(key, cached)
        return dict(cached[0])

    async def public_chunk(self, room: RoomInfo) -> JsonDict:
        """The ``PublishedRoomsChunk`` of ``room``."""
        return {k: v for k, v in (await self.summary(room)).items() if k in PUBLIC_CHUNK_KEYS}

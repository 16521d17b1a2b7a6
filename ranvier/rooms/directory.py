"""The published room directory (client-server-api "Published room directory",
list_public_rooms.yaml).

Theory of operation
-------------------
A room is in the directory when its ``rooms.published`` flag is set (``/createRoom``
with ``visibility: public``, or ``PUT /directory/list/room/{roomId}``). Who may change
the flag is left to servers; here: server admins, and members whose power level
allows ``m.room.canonical_alias`` (the level that governs how the room is advertised).

``/publicRooms`` lists the published rooms as :mod:`ranvier.rooms.summary` chunks,
ordered by joined members, largest first, then by room id (a stable order, as
v1.19 recommends). Filters (``generic_search_term``: a case-insensitive substring of
the name, topic, canonical alias or room id; ``room_types``, where ``null`` means
rooms without a type) apply before paging. Paging is by key, not by offset, so rooms
joining or leaving the list between requests do not shift the pages: ``next_batch``
is ``n<members>_<room id>`` of the last room of the page ("rooms after this one") and
``prev_batch`` is ``p<members>_<room id>`` of the first ("rooms before this one").
``server`` other than this server is asked of that server over federation
(:attr:`DirectoryService.remote`, server-server-api "Public Room Directory"); without
federation it is 404 ``M_NOT_FOUND``. Third-party networks (``third_party_instance_id``) have no
rooms here: application services are not supported yet.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ranvier.core.events import JsonDict
from ranvier.http.types import MatrixError
from ranvier.rooms.aliases import AdminCheck, may_send_state
from ranvier.rooms.service import RoomService
from ranvier.rooms.summary import RoomSummaries

MAX_LIMIT = 500

RemotePublicRooms = Callable[[str, JsonDict], Awaitable[JsonDict]]
"""``await remote(server, params)`` -> ``server``'s ``/publicRooms`` answer for the
client's ``params`` (:class:`ranvier.federation.directory.DirectoryClient`)."""


@dataclass(frozen=True, slots=True)
class PageKey:
    """A position in the directory order: ``(joined members, room id)``."""

    forward: bool
    joined: int
    room_id: str

    def __str__(self) -> str:
        return f"{'n' if self.forward else 'p'}{self.joined}_{self.room_id}"

    @classmethod
    def parse(cls, text: str) -> PageKey:
        """The key written as ``text``; 400 ``M_INVALID_PARAM`` if malformed."""
        count, sep, room_id = text[1:].partition("_")
        if text[:1] not in ("n", "p") or not sep or not count.isdigit() or len(count) > 12:
            raise MatrixError(400, "M_INVALID_PARAM", "Invalid pagination token")
        return cls(text[0] == "n", int(count), room_id)

    def order(self) -> tuple[int, str]:
        """The sort key of the room this token names."""
        return (-self.joined, self.room_id)


def _order(chunk: JsonDict) -> tuple[int, str]:
    return (-int(chunk["num_joined_members"]), str(chunk["room_id"]))


def _matches(chunk: JsonDict, term: str | None, room_types: Sequence[str | None] | None) -> bool:
    if room_types is not None and chunk.get("room_type") not in room_types:
        return False
    if term:
        needle = term.casefold()
        fields = ("name", "topic", "canonical_alias", "room_id")
        if not any(needle in str(chunk.get(f, "")).casefold() for f in fields):
            return False
    return True


class DirectoryService:
    """Room visibility in the directory, and the ``/publicRooms`` listing."""

    def __init__(
        self,
        rooms: RoomService,
        summaries: RoomSummaries,
        is_admin: AdminCheck | None = None,
    ) -> None:
        self.rooms = rooms
        self.summaries = summaries
        self.is_admin = is_admin
        self.remote: RemotePublicRooms | None = None
        """Asks other servers' directories (set when federation is enabled)."""

    async def get_visibility(self, room_id: str) -> str:
        """``public`` or ``private``; 404 ``M_NOT_FOUND`` for an unknown room."""
        room = await self.rooms.room(room_id)
        return "public" if await self.rooms.events.is_published(room.nid) else "private"

    async def set_visibility(self, user_id: str, room_id: str, visibility: str) -> None:
        """Publish or hide the room (see the module docstring for who may)."""
        if visibility not in ("public", "private"):
            raise MatrixError(400, "M_INVALID_PARAM", "visibility must be public or private")
        room = await self.rooms.room(room_id)
        allowed = await may_send_state(self.rooms, room_id, user_id, "m.room.canonical_alias")
        if not allowed and not (self.is_admin is not None and await self.is_admin(user_id)):
            raise MatrixError(
                403, "M_FORBIDDEN", "You may not change this room's visibility in the directory"
            )
        await self.rooms.events.set_published(room.nid, visibility == "public")

    async def published_room_ids(self) -> list[str]:
        """Ids of every published room."""
        rows = await self.rooms.storage.db.fetchall(
            "SELECT room_id FROM rooms WHERE published ORDER BY room_id"
        )
        return [str(r[0]) for r in rows]

    async def public_rooms(
        self,
        *,
        limit: int | None = None,
        since: str | None = None,
        search_term: str | None = None,
        room_types: Sequence[str | None] | None = None,
        server: str | None = None,
        third_party_instance_id: str | None = None,
        include_all_networks: bool = False,
    ) -> JsonDict:
        """The ``/publicRooms`` response (see the module docstring)."""
        if server is not None and server != self.rooms.server_name:
            if self.remote is None:
                raise MatrixError(404, "M_NOT_FOUND", "Remote room directories are not available")
            flt: JsonDict = {}
            if search_term is not None:
                flt["generic_search_term"] = search_term
            if room_types is not None:
                flt["room_types"] = list(room_types)
            params: JsonDict = {
                "limit": limit,
                "since": since,
                "third_party_instance_id": third_party_instance_id,
                "include_all_networks": include_all_networks or None,
                "filter": flt or None,
            }
            return await self.remote(server, params)
        if limit is not None and limit < 0:
            raise MatrixError(400, "M_INVALID_PARAM", "limit must not be negative")
        key = PageKey.parse(since) if since else None
        chunks: list[JsonDict] = []
        if third_party_instance_id is None or include_all_networks:
            for room_id in await self.published_room_ids():
                info = await self.rooms.events.get_room(room_id)
                if info is None:
                    continue
                chunk = await self.summaries.public_chunk(info)
                if _matches(chunk, search_term, room_types):
                    chunks.append(chunk)
        chunks.sort(key=_order)
        total = len(chunks)
        size = min(limit if limit else MAX_LIMIT, MAX_LIMIT)
        if key is None:
            start = 0
        elif key.forward:
            start = next((i for i, c in enumerate(chunks) if _order(c) > key.order()), total)
        else:
            end = next((i for i, c in enumerate(chunks) if _order(c) >= key.order()), total)
            start = max(0, end - size)
            size = end - start
        page = chunks[start : start + size]
        out: dict[str, Any] = {"chunk": page, "total_room_count_estimate": total}
        if page and start + len(page) < total:
            last = page[-1]
            out["next_batch"] = str(PageKey(True, last["num_joined_members"], last["room_id"]))
        if page and start > 0:
            first = page[0]
            out["prev_batch"] = str(PageKey(False, first["num_joined_members"], first["room_id"]))
        return out

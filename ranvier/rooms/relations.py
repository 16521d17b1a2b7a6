"""Event relationships for clients: ``/relations``, ``/threads`` and checks on sending.

Theory of operation
-------------------
The index is :mod:`ranvier.rooms.relation_store` (written when events are persisted);
bundled aggregations are added by :mod:`ranvier.rooms.render`. This module answers:

* ``GET /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]``
  (client-server-api "Relationships API", relations.yaml): the parent must be
  visible to the user (else 404 ``M_NOT_FOUND``); children are filtered by
  ``rel_type`` and event type, and with ``recurse`` (v1.10) followed up to
  :data:`RECURSION_DEPTH` relations away, only through children that match the
  filters ("Events that would match the filter, but whose only relation to the
  original given event is through a non-matching intermediate event, will not be
  included"); each child must itself be visible. Pages are ordered by stream
  position (topological order for the events of this server), newest first for
  ``dir=b`` (the default), oldest first for ``dir=f``.
* ``GET /rooms/{roomId}/threads`` (threads_list.yaml): thread roots ordered by their
  latest child, ``include=participated`` keeping threads the user started or replied
  in, each root with its bundled aggregations; the user must be able to read the
  room (403 ``M_FORBIDDEN``).
* Sending (:func:`relation_guard`, run in the room's queue): an ``m.thread`` may not
  start from an event that itself has a relation (threading "Validation of m.thread
  relationships": 400 ``M_UNKNOWN``), and a user may not send the same annotation
  (event type and key) twice to one event (event_annotations "Avoiding duplicate
  annotations": 400 ``M_DUPLICATE_ANNOTATION``; a redacted annotation no longer
  counts, as redaction removes it from the index).

Pagination tokens are positions of the events stream, the same as ``/messages`` and
``/sync`` use (``t<N>``, or a sync token ``s<N>_...``, both naming the gap after
stream position N), so a token of either endpoint works as ``from``/``to`` here, as
relations.yaml asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ranvier.core.events import JsonDict
from ranvier.http.types import MatrixError
from ranvier.rooms.event_store import RoomInfo, StoredEvent
from ranvier.rooms.relation_store import ANNOTATION, THREAD, parse_relation
from ranvier.rooms.render import ClientEventRenderer

if TYPE_CHECKING:
    from ranvier.rooms.pipeline import Guard, LocalEvent, RoomContext
    from ranvier.rooms.service import RoomService
    from ranvier.rooms.storage import RoomStorage

RECURSION_DEPTH = 3
"""relations.yaml: "Homeservers SHOULD traverse at least 3 levels of relationships"."""
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def parse_position(token: str, name: str) -> int:
    """The events-stream position of a pagination token (``t<N>`` or ``s<N>_...``);
    400 ``M_INVALID_PARAM`` otherwise."""
    body = token[1:] if token[:1] in ("t", "s") else ""
    if token[:1] == "s":
        body = body.split("_", 1)[0]
    if not body.isascii() or not body.isdigit() or len(body) > 18:
        raise MatrixError(400, "M_INVALID_PARAM", f"Invalid pagination token in {name!r}")
    return int(body)


def position_token(position: int) -> str:
    """The token naming the gap after stream position ``position``."""
    return f"t{max(position, 0)}"


def relation_guard(storage: RoomStorage, room: RoomInfo, local: LocalEvent) -> Guard | None:
    """The pipeline guard checking a local event's relation (module docstring), or None
    when the event has nothing to check."""
    rel = parse_relation(local.content)
    if rel is None:
        return None
    if rel.rel_type == THREAD:
        parent_id = rel.parent_id

        async def thread_guard(ctx: RoomContext) -> str | None:
            parent = await storage.events.get_by_id(parent_id)
            if (
                parent is not None
                and parent.room_nid == room.nid
                and parse_relation(parent.event.content) is not None
            ):
                raise MatrixError(
                    400, "M_UNKNOWN", "Cannot start a thread from an event with a relation"
                )
            return None

        return thread_guard
    key = rel.key
    if rel.rel_type == ANNOTATION and key is not None:
        parent_id = rel.parent_id

        async def annotation_guard(ctx: RoomContext) -> str | None:
            if await storage.relations.has_annotation(
                room.nid, parent_id, local.sender, local.event_type, key
            ):
                raise MatrixError(400, "M_DUPLICATE_ANNOTATION", "You already sent this annotation")
            return None

        return annotation_guard
    return None


def _limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1:
        raise MatrixError(400, "M_INVALID_PARAM", "limit must be positive")
    return min(limit, MAX_LIMIT)


class RelationService:
    """Reads of relations and threads with the history visibility rules."""

    def __init__(self, rooms: RoomService, renderer: ClientEventRenderer) -> None:
        self.rooms = rooms
        self.storage = rooms.storage
        self.renderer = renderer

    async def _visible(self, user_id: str, events: list[StoredEvent]) -> list[StoredEvent]:
        out = []
        for stored in events:
            if stored.rejected or stored.soft_failed:
                continue
            if await self.rooms.can_see(user_id, stored):
                out.append(stored)
        return out

    async def relations(
        self,
        room_id: str,
        event_id: str,
        user_id: str,
        *,
        device_id: str | None = None,
        rel_type: str | None = None,
        event_type: str | None = None,
        from_token: str | None = None,
        to_token: str | None = None,
        limit: int | None = None,
        direction: str = "b",
        recurse: bool | None = None,
    ) -> JsonDict:
        """``GET /relations``: one page of the children of ``event_id``."""
        if direction not in ("b", "f"):
            raise MatrixError(400, "M_INVALID_PARAM", "dir must be 'b' or 'f'")
        n = _limit(limit)
        start = None if from_token is None else parse_position(from_token, "from")
        end = None if to_token is None else parse_position(to_token, "to")
        parent = await self.storage.events.get_by_id(event_id)
        if (
            parent is None
            or parent.event.room_id != room_id
            or not await self._visible(user_id, [parent])
        ):
            raise MatrixError(404, "M_NOT_FOUND", "Event not found")
        forwards = direction == "f"
        depth = RECURSION_DEPTH if recurse else 1
        rows = await self.storage.relations.children(
            parent.room_nid,
            event_id,
            rel_type=rel_type,
            event_type=event_type,
            before=end if forwards else start,
            after=start if forwards else end,
            forwards=forwards,
            limit=n + 1,
            depth=depth,
        )
        more = len(rows) > n
        rows = rows[:n]
        found = await self.storage.events.get_by_nids(nid for nid, _ in rows)
        children = await self._visible(user_id, [found[nid] for nid, _ in rows if nid in found])
        chunk = await self.renderer.render(children, user_id, device_id=device_id)
        out: JsonDict = {"chunk": chunk}
        if more:
            last = rows[-1][1]
            out["next_batch"] = position_token(last if forwards else last - 1)
        if from_token is not None:
            out["prev_batch"] = from_token
        if recurse is not None:
            out["recursion_depth"] = depth
        return out

    async def threads(
        self,
        room_id: str,
        user_id: str,
        *,
        device_id: str | None = None,
        include: str = "all",
        from_token: str | None = None,
        limit: int | None = None,
    ) -> JsonDict:
        """``GET /threads``: one page of the room's thread roots, latest activity first."""
        if include not in ("all", "participated"):
            raise MatrixError(400, "M_INVALID_PARAM", "include must be 'all' or 'participated'")
        n = _limit(limit)
        start = None if from_token is None else parse_position(from_token, "from")
        room = await self.rooms.room_for_reader(room_id)
        await self.rooms.reader_state(room, user_id)
        rows = await self.storage.relations.threads(
            room.nid,
            before=start,
            limit=n + 1,
            participant=user_id if include == "participated" else None,
        )
        more = len(rows) > n
        rows = rows[:n]
        roots = []
        for root_id, _ in rows:
            stored = await self.storage.events.get_by_id(root_id)
            if stored is not None and stored.room_nid == room.nid:
                roots.append(stored)
        visible = await self._visible(user_id, roots)
        chunk = await self.renderer.render(visible, user_id, device_id=device_id)
        out: JsonDict = {"chunk": chunk}
        if more:
            out["next_batch"] = position_token(rows[-1][1] - 1)
        return out

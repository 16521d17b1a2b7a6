"""The space hierarchy of local rooms (client-server-api "Spaces",
space_hierarchy.yaml: ``GET /_matrix/client/v1/rooms/{roomId}/hierarchy``).

Theory of operation
-------------------
The walk is depth first from the requested room, through the ``m.space.child`` state
events of space-rooms (``m.space`` type) only; a child event without a non-empty
``via`` list is no link ("Managing rooms/spaces included in a space"). Children are
visited in the spec's order ("Ordering of children within a space": valid ``order``
strings first, by code point, then by the child event's ``origin_server_ts``, then by
room id). Each room is listed once, so loops end.

A room is listed when the user may see it, per the response description: they are
joined or invited; or the join rule is ``public``, ``knock`` (or ``knock_restricted``
where the version has it), or ``restricted``/``knock_restricted`` with an allow
condition they meet; or the history is ``world_readable``. Banned users see only
``world_readable`` rooms. Rooms the user may not see are neither listed nor walked
into; the requested room itself must be visible (403 ``M_FORBIDDEN`` otherwise,
including unknown rooms).

Rooms this server does not hold are asked of other servers, when a ``remote`` fetcher
is given (:meth:`ranvier.federation.directory.DirectoryClient.hierarchy`): a child
through the ``via`` servers of its link, an unknown requested room through its id's
server. The answering server lists only what our server may see; the user's own view is
then checked on the entry (``world_readable``, an open ``join_rule``, or a restricted
one whose ``allowed_room_ids`` hold a room the user is joined to here, or the user's
own invite or membership known here). The ``children`` it answers with are kept for
the rest of the walk, so a child at the depth limit costs no further request; its
``inaccessible_children`` are skipped.

Paging: ``limit`` rooms per page (default 50, at most 100), ``max_depth`` (default
and maximum 10), ``suggested_only`` (only children whose event says
``suggested: true``). ``next_batch`` carries the walk itself: the stack of rooms still
to visit and the rooms already listed, with the parameters they were made with, as
base64url JSON, so any process can continue it; a changed ``suggested_only`` or
``max_depth`` is 400 ``M_INVALID_PARAM`` as the spec requires.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from ranvier.core.events import Event, JsonDict
from ranvier.http.types import MatrixError
from ranvier.rooms.event_store import RoomInfo
from ranvier.rooms.membership import MembershipService
from ranvier.rooms.storage import RoomStorage
from ranvier.rooms.summary import RoomSummaries

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_DEPTH = 10
CHILD = "m.space.child"


def _valid_order(value: Any) -> bool:
    return (
        isinstance(value, str) and len(value) <= 50 and all("\x20" <= ch <= "\x7e" for ch in value)
    )


RemoteHierarchy = Callable[[str, list[str], bool], Awaitable[JsonDict | None]]
"""``await remote(room_id, via_servers, suggested_only)``: a federation ``/hierarchy``
answer for a room this server does not hold, or None."""

_OPEN_RULES = ("public", "knock", "knock_restricted")


def _order_key(content: Any, ts: Any, state_key: Any) -> tuple[int, str, int, str]:
    order = content.get("order") if isinstance(content, dict) else None
    key = order if isinstance(order, str) and _valid_order(order) else None
    return (
        0 if key is not None else 1,
        key or "",
        ts if isinstance(ts, int) else 0,
        state_key if isinstance(state_key, str) else "",
    )


def child_sort_key(ev: Event) -> tuple[int, str, int, str]:
    """The spec's order of space children (see the module docstring)."""
    return _order_key(ev.content, ev.origin_server_ts, ev.state_key)


def _via(content: Any) -> list[str]:
    via = content.get("via") if isinstance(content, dict) else None
    return [v for v in via if isinstance(v, str)] if isinstance(via, list) else []


def remote_child_links(entry: JsonDict, suggested_only: bool) -> list[tuple[str, list[str]]]:
    """``(child room id, via servers)`` of a remote entry's ``children_state``, in the
    spec's order; links without ``via`` (and, with ``suggested_only``, unsuggested ones)
    are left out."""
    links = []
    for ev in entry.get("children_state") or []:
        if not isinstance(ev, dict) or ev.get("type") != CHILD:
            continue
        content, child = ev.get("content"), ev.get("state_key")
        if not isinstance(child, str) or not child.startswith("!") or not _via(content):
            continue
        if suggested_only and not (isinstance(content, dict) and content.get("suggested") is True):
            continue
        links.append((_order_key(content, ev.get("origin_server_ts"), child), child, content))
    links.sort(key=lambda x: x[0])
    return [(child, _via(content)) for _, child, content in links]


def is_child_link(ev: Event) -> bool:
    """Whether an ``m.space.child`` event links a room: a non-empty ``via`` list."""
    via = ev.content.get("via")
    return isinstance(via, list) and any(isinstance(v, str) for v in via) and bool(via)


async def space_children(storage: RoomStorage, room: RoomInfo, suggested_only: bool) -> list[Event]:
    """The child links (:func:`is_child_link`) in the current state of ``room``, in the
    spec's order (:func:`child_sort_key`); with ``suggested_only``, only those whose
    content says ``suggested: true``."""
    current = await storage.current_state(room.nid)
    type_nid = await storage.nids.types.lookup(CHILD)
    if type_nid is None:
        return []
    nids = [e for (t, _), e in current.state.items() if t == type_nid]
    found = await storage.events.get_by_nids(nids)
    links = [
        s.event
        for s in found.values()
        if is_child_link(s.event)
        and (not suggested_only or s.event.content.get("suggested") is True)
    ]
    return sorted(links, key=child_sort_key)


async def room_entry(
    summaries: RoomSummaries, storage: RoomStorage, room: RoomInfo, suggested_only: bool
) -> tuple[JsonDict, list[Event]]:
    """One ``rooms`` (or federation ``room``/``children``) entry of a hierarchy answer:
    the room's summary with ``children_state``, the stripped child link events of a
    space (none for other room types; space_hierarchy.yaml ``SpaceHierarchyRoomsChunk``);
    and those links, for the walk to follow."""
    entry = await summaries.summary(room)
    children: list[Event] = []
    if entry.get("room_type") == "m.space":
        children = await space_children(storage, room, suggested_only)
    entry["children_state"] = [
        {
            "type": ev.type,
            "state_key": ev.state_key,
            "content": ev.content,
            "sender": ev.sender,
            "origin_server_ts": ev.origin_server_ts,
        }
        for ev in children
    ]
    return entry, children


def _encode(data: JsonDict) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")


def _decode(token: str) -> JsonDict:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
    except (binascii.Error, ValueError):
        raise MatrixError(400, "M_INVALID_PARAM", "Unknown pagination token") from None
    if not isinstance(data, dict):
        raise MatrixError(400, "M_INVALID_PARAM", "Unknown pagination token")
    return data


class HierarchyService:
    """Walks the space tree of local rooms for one user."""

    def __init__(
        self,
        membership: MembershipService,
        summaries: RoomSummaries,
        remote: RemoteHierarchy | None = None,
    ) -> None:
        self.membership = membership
        self.rooms = membership.rooms
        self.summaries = summaries
        self.remote = remote
        """Asks other servers about rooms this one does not hold (None: local only)."""

    async def remote_visible(self, entry: JsonDict, user_id: str) -> bool:
        """Whether ``user_id`` may see a room known only from another server's entry
        (module docstring)."""
        if entry.get("world_readable") is True or entry.get("join_rule") in _OPEN_RULES:
            return True
        room_id = entry.get("room_id")
        known = await self.rooms.events.get_room(room_id) if isinstance(room_id, str) else None
        if known is not None:
            membership = await self.rooms.events.membership_of(known.nid, user_id)
            if membership in ("join", "invite"):
                return True
        if entry.get("join_rule") in ("restricted", "knock_restricted"):
            for allowed in entry.get("allowed_room_ids") or []:
                room = (
                    await self.rooms.events.get_room(allowed) if isinstance(allowed, str) else None
                )
                if room is not None and (
                    await self.rooms.events.membership_of(room.nid, user_id) == "join"
                ):
                    return True
        return False

    async def _fetch(
        self, room_id: str, via: list[str], suggested_only: bool, cache: dict[str, JsonDict]
    ) -> JsonDict | None:
        """Another server's ``room`` entry for ``room_id``; its ``children`` entries go
        to ``cache``, its ``inaccessible_children`` as empty dicts."""
        if self.remote is None:
            return None
        answer = await self.remote(room_id, via, suggested_only)
        if answer is None:
            return None
        for child in answer.get("children") or []:
            if isinstance(child, dict) and isinstance(child.get("room_id"), str):
                cache.setdefault(child["room_id"], child)
        for gone in answer.get("inaccessible_children") or []:
            if isinstance(gone, str):
                cache[gone] = {}
        room = answer.get("room")
        return room if isinstance(room, dict) and room.get("room_id") == room_id else None

    async def _state(self, room: RoomInfo, user_id: str) -> dict[tuple[str, str], Event]:
        snapshot = await self.rooms.storage.current_state(room.nid)
        keys = [
            ("m.room.create", ""),
            ("m.room.join_rules", ""),
            ("m.room.history_visibility", ""),
            ("m.room.member", user_id),
        ]
        return await self.rooms.storage.state_events(snapshot, keys)

    async def visible(self, room: RoomInfo, user_id: str) -> bool:
        """Whether ``user_id`` may see ``room`` in a hierarchy (module docstring)."""
        state = await self._state(room, user_id)
        member = state.get(("m.room.member", user_id))
        membership = member.membership if member is not None else None
        if membership in ("join", "invite"):
            return True
        hv = state.get(("m.room.history_visibility", ""))
        if hv is not None and hv.content.get("history_visibility") == "world_readable":
            return True
        if membership == "ban":
            return False
        join_rules = state.get(("m.room.join_rules", ""))
        rule = join_rules.content.get("join_rule") if join_rules is not None else None
        rv = room.room_version
        if rule == "public" or (rule == "knock" and rv.knock_allowed):
            return True
        if rule == "knock_restricted" and rv.knock_restricted_join_rule:
            return True
        if rule == "restricted" and rv.restricted_join_rule:
            return await self.membership.meets_allow_conditions(user_id, join_rules)
        return False

    async def _remote_entry(
        self,
        room_id: str,
        via: list[str],
        need_children: bool,
        suggested_only: bool,
        cache: dict[str, JsonDict],
        remote_root: JsonDict | None,
    ) -> JsonDict | None:
        """The entry of a room this server does not hold: the fetched root, a child
        entry already answered (enough at the depth limit), or another server's answer."""
        if remote_root is not None and remote_root.get("room_id") == room_id:
            found: JsonDict | None = remote_root
        else:
            cached = cache.get(room_id)
            if cached == {}:
                return None  # the answering server called it inaccessible
            if cached is not None and not need_children:
                found = cached
            else:
                found = await self._fetch(room_id, via, suggested_only, cache)
        if found is None:
            return None
        entry = dict(found)
        if not isinstance(entry.get("children_state"), list):
            entry["children_state"] = []
        return entry

    async def hierarchy(
        self,
        user_id: str,
        room_id: str,
        *,
        suggested_only: bool = False,
        max_depth: int | None = None,
        limit: int | None = None,
        from_token: str | None = None,
    ) -> JsonDict:
        """The ``/hierarchy`` response (see the module docstring)."""
        if limit is not None and limit <= 0:
            raise MatrixError(400, "M_INVALID_PARAM", "limit must be greater than zero")
        if max_depth is not None and max_depth < 0:
            raise MatrixError(400, "M_INVALID_PARAM", "max_depth must not be negative")
        page_size = min(limit or DEFAULT_LIMIT, MAX_LIMIT)
        depth_limit = min(MAX_DEPTH if max_depth is None else max_depth, MAX_DEPTH)
        root = await self.rooms.events.get_room(room_id)
        cache: dict[str, JsonDict] = {}
        remote_root: JsonDict | None = None
        if root is None and self.remote is not None:
            server = room_id.partition(":")[2]
            remote_root = await self._fetch(
                room_id, [server] if server else [], suggested_only, cache
            )
            if remote_root is None or not await self.remote_visible(remote_root, user_id):
                raise MatrixError(403, "M_FORBIDDEN", "You are not allowed to view this room")
        elif root is None or not await self.visible(root, user_id):
            raise MatrixError(403, "M_FORBIDDEN", "You are not allowed to view this room")
        stack: list[list[Any]] = [[room_id, 0, []]]
        seen: set[str] = set()
        if from_token is not None:
            data = _decode(from_token)
            if data.get("root") != room_id:
                raise MatrixError(400, "M_INVALID_PARAM", "Unknown pagination token")
            if data.get("suggested_only") != suggested_only or data.get("max_depth") != max_depth:
                raise MatrixError(
                    400,
                    "M_INVALID_PARAM",
                    "suggested_only and max_depth cannot change on paginated requests",
                )
            stack = [list(x) for x in data.get("stack", []) if isinstance(x, list)]
            seen = {s for s in data.get("seen", []) if isinstance(s, str)}

        rooms: list[JsonDict] = []
        while stack and len(rooms) < page_size:
            item = stack.pop()
            if len(item) < 2:
                continue
            current_id, depth = item[0], item[1]
            via = (
                [v for v in item[2] if isinstance(v, str)]
                if len(item) > 2 and isinstance(item[2], list)
                else []
            )
            if not isinstance(current_id, str) or current_id in seen or not isinstance(depth, int):
                continue
            seen.add(current_id)
            info = await self.rooms.events.get_room(current_id)
            links: list[tuple[str, list[str]]]
            if info is not None:
                if not await self.visible(info, user_id):
                    continue
                entry, children = await room_entry(
                    self.summaries, self.rooms.storage, info, suggested_only
                )
                links = [(str(ev.state_key), _via(ev.content)) for ev in children]
            else:
                found = await self._remote_entry(
                    current_id, via, depth < depth_limit, suggested_only, cache, remote_root
                )
                if found is None or not await self.remote_visible(found, user_id):
                    continue
                entry = found
                links = remote_child_links(entry, suggested_only)
            rooms.append(entry)
            if depth < depth_limit:
                for child, child_via in reversed(links):
                    if child not in seen:
                        stack.append([child, depth + 1, child_via])
        out: JsonDict = {"rooms": rooms}
        if stack:
            out["next_batch"] = _encode(
                {
                    "root": room_id,
                    "suggested_only": suggested_only,
                    "max_depth": max_depth,
                    "stack": stack,
                    "seen": sorted(seen),
                }
            )
        return out

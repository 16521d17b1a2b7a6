"""Room aliases (client-server-api "Room aliases", directory.yaml): ``#alias:server -> room``.

Theory of operation
-------------------
:class:`AliasStore` is the ``room_aliases`` table: one row per local alias with the
room it points to and the user who made it. Room creation (``room_alias_name``),
joins by alias and room upgrades (which move every local alias to the new room) use
it directly.

:class:`AliasService` answers the directory endpoints with the access rules this
server chose where the spec leaves them open:

* ``PUT /directory/room/{roomAlias}``: the alias must be on this server (400
  ``M_INVALID_PARAM``), the room must exist (404 ``M_NOT_FOUND``) and the user must
  be joined to it (403 ``M_FORBIDDEN``) unless a server admin; a taken alias is
  409 ``M_UNKNOWN`` as the spec's example shows;
* ``GET /directory/room/{roomAlias}``: local aliases from the table, with the
  servers of the room's joined members (this server first); a remote alias goes to
  the optional :data:`RemoteAliasResolver` (the federation directory query), else
  404 ``M_NOT_FOUND``;
* ``DELETE /directory/room/{roomAlias}``: allowed to the alias's creator, to server
  admins, and to users whose power level allows ``m.room.canonical_alias`` in the
  room (the spec lets servers choose). As the spec recommends, the alias is also
  removed from the room's ``m.room.canonical_alias`` event when the deleting user
  may send it; the deletion succeeds even when they may not;
* ``GET /rooms/{roomId}/aliases``: for joined members, and for anyone when the
  room's history is ``world_readable`` (403 ``M_FORBIDDEN`` otherwise).

:meth:`AliasStore.check_canonical_alias` is the check of ``PUT
/rooms/{roomId}/state/m.room.canonical_alias`` (room_state.yaml): every alias must
be a valid alias (400 ``M_INVALID_PARAM``) and every alias not already in the
room's current event must point to the room (400 ``M_BAD_ALIAS``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ranvier.core.auth import get_required_power_level, get_user_power_level
from ranvier.core.ids import InvalidIdentifier, parse_room_alias, server_name_of
from ranvier.db import Database, UniqueViolation
from ranvier.http.types import MatrixError

if TYPE_CHECKING:
    from ranvier.rooms.service import RoomService

RemoteAliasResolver = Callable[[str], Awaitable[tuple[str, list[str]] | None]]
"""``await resolve(alias)`` -> ``(room_id, servers)`` of a remote alias, or None."""

AdminCheck = Callable[[str], Awaitable[bool]]
"""``await is_admin(user_id)`` -> whether the user is a server admin."""

CANONICAL_ALIAS = "m.room.canonical_alias"


class AliasTaken(Exception):
    """The alias already points to a room."""


def check_alias_syntax(alias: Any) -> str:
    """``alias`` if it is a valid room alias, else 400 ``M_INVALID_PARAM``
    (appendices "Room Aliases")."""
    if not isinstance(alias, str):
        raise MatrixError(400, "M_INVALID_PARAM", "Room alias must be a string")
    try:
        parse_room_alias(alias)
    except InvalidIdentifier as exc:
        raise MatrixError(400, "M_INVALID_PARAM", f"Invalid room alias {alias!r}: {exc}") from None
    return alias


def canonical_aliases(content: Mapping[str, Any] | None) -> list[str]:
    """The aliases an ``m.room.canonical_alias`` content names (``alias`` and
    ``alt_aliases``), without validating them."""
    if not content:
        return []
    out: list[str] = []
    alias = content.get("alias")
    if isinstance(alias, str) and alias:
        out.append(alias)
    alt = content.get("alt_aliases")
    if isinstance(alt, list):
        out.extend(a for a in alt if isinstance(a, str))
    return out


async def may_send_state(rooms: RoomService, room_id: str, user_id: str, event_type: str) -> bool:
    """Whether ``user_id`` is joined to the local room and has the power level to send
    state of ``event_type`` there (server-server-api "Definitions")."""
    room = await rooms.events.get_room(room_id)
    if room is None:
        return False
    current = await rooms.storage.current_state(room.nid)
    state = await rooms.storage.state_events(
        current, [("m.room.create", ""), ("m.room.power_levels", ""), ("m.room.member", user_id)]
    )
    member = state.get(("m.room.member", user_id))
    if member is None or member.membership != "join":
        return False
    return get_user_power_level(user_id, state) >= get_required_power_level(event_type, "", state)


class AliasStore:
    """The ``room_aliases`` table, and alias resolution for the room service."""

    def __init__(self, db: Database, remote: RemoteAliasResolver | None = None) -> None:
        self.db = db
        self.remote = remote

    async def create(self, alias: str, room_id: str, creator: str) -> None:
        """Map ``alias`` to ``room_id``; raise :class:`AliasTaken` if it exists."""
        try:
            await self.db.execute(
                "INSERT INTO room_aliases (room_alias, room_id, creator) VALUES ($1, $2, $3)",
                alias,
                room_id,
                creator,
            )
        except UniqueViolation:
            raise AliasTaken(alias) from None

    async def resolve(self, alias: str) -> str | None:
        """The room id of the local ``alias``, or None."""
        row = await self.db.fetchone(
            "SELECT room_id FROM room_aliases WHERE room_alias = $1", alias
        )
        return None if row is None else str(row[0])

    async def creator_of(self, alias: str) -> str | None:
        """Who created the local ``alias`` (None if it does not exist)."""
        row = await self.db.fetchone(
            "SELECT creator FROM room_aliases WHERE room_alias = $1", alias
        )
        return None if row is None else str(row[0])

    async def delete(self, alias: str) -> bool:
        """Remove ``alias``; return whether it existed."""
        return await self.db.execute("DELETE FROM room_aliases WHERE room_alias = $1", alias) > 0

    async def aliases_of(self, room_id: str) -> list[str]:
        """Every local alias of ``room_id``."""
        rows = await self.db.fetchall(
            "SELECT room_alias FROM room_aliases WHERE room_id = $1 ORDER BY room_alias", room_id
        )
        return [str(r[0]) for r in rows]

    async def move(self, old_room_id: str, new_room_id: str) -> list[str]:
        """Point every local alias of ``old_room_id`` to ``new_room_id`` (room upgrades,
        client-server-api "Room Upgrades" step 4); return the aliases moved."""
        moved = await self.aliases_of(old_room_id)
        await self.db.execute(
            "UPDATE room_aliases SET room_id = $1 WHERE room_id = $2", new_room_id, old_room_id
        )
        return moved

    async def lookup(self, alias: str, server_name: str) -> str | None:
        """The room id of any alias: local from the table, remote through
        :attr:`remote` (None when unknown or when there is no resolver)."""
        if server_name_of(alias) == server_name:
            return await self.resolve(alias)
        if self.remote is None:
            return None
        found = await self.remote(alias)
        return None if found is None else found[0]

    async def check_canonical_alias(
        self,
        room_id: str,
        server_name: str,
        content: Mapping[str, Any],
        previous: Mapping[str, Any] | None,
    ) -> None:
        """The check of a new ``m.room.canonical_alias`` content (room_state.yaml, 400
        ``M_INVALID_PARAM`` for bad syntax, ``M_BAD_ALIAS`` for an alias that does not
        point to ``room_id``). Aliases already in ``previous`` are not checked again:
        aliases may drift, and a room must stay able to edit the rest of the event."""
        alias = content.get("alias")
        if alias is not None and alias != "":
            check_alias_syntax(alias)
        alt = content.get("alt_aliases")
        if alt is not None:
            if not isinstance(alt, list):
                raise MatrixError(400, "M_INVALID_PARAM", "alt_aliases must be a list")
            for a in alt:
                check_alias_syntax(a)
        known = set(canonical_aliases(previous))
        for a in canonical_aliases(content):
            if a in known:
                continue
            if await self.lookup(a, server_name) != room_id:
                raise MatrixError(400, "M_BAD_ALIAS", f"The alias {a} does not point to this room")
            known.add(a)


class AliasService:
    """The directory endpoints (see the module docstring for the access rules)."""

    def __init__(
        self, store: AliasStore, rooms: RoomService, is_admin: AdminCheck | None = None
    ) -> None:
        self.store = store
        self.rooms = rooms
        self.server_name = rooms.server_name
        self.is_admin = is_admin

    async def _admin(self, user_id: str) -> bool:
        return self.is_admin is not None and await self.is_admin(user_id)

    def _local_alias(self, alias: str) -> str:
        check_alias_syntax(alias)
        if server_name_of(alias) != self.server_name:
            raise MatrixError(400, "M_INVALID_PARAM", "Room alias must be on this server")
        return alias

    async def set_alias(self, user_id: str, alias: str, room_id: str) -> None:
        """``PUT /directory/room/{roomAlias}``."""
        self._local_alias(alias)
        room = await self.rooms.room(room_id)
        if await self.rooms.events.membership_of(
            room.nid, user_id
        ) != "join" and not await self._admin(user_id):
            raise MatrixError(403, "M_FORBIDDEN", "You are not joined to this room")
        try:
            await self.store.create(alias, room_id, user_id)
        except AliasTaken:
            raise MatrixError(409, "M_UNKNOWN", f"Room alias {alias} already exists") from None

    async def servers_of(self, room_id: str) -> list[str]:
        """Servers of the room's joined members, this server first."""
        room = await self.rooms.events.get_room(room_id)
        servers = [self.server_name]
        if room is None:
            return servers
        for user_id, membership, _ in await self.rooms.events.members(room.nid):
            if membership != "join":
                continue
            try:
                server = server_name_of(user_id)
            except (InvalidIdentifier, ValueError):
                continue
            if server not in servers:
                servers.append(server)
        return servers

    async def resolve(self, alias: str) -> tuple[str, list[str]]:
        """``GET /directory/room/{roomAlias}`` -> ``(room_id, servers)``."""
        check_alias_syntax(alias)
        if server_name_of(alias) == self.server_name:
            room_id = await self.store.resolve(alias)
            if room_id is not None:
                return room_id, await self.servers_of(room_id)
        elif self.store.remote is not None:
            found = await self.store.remote(alias)
            if found is not None:
                return found
        raise MatrixError(404, "M_NOT_FOUND", f"Room alias {alias} not found")

    async def delete_alias(self, user_id: str, alias: str) -> None:
        """``DELETE /directory/room/{roomAlias}`` (404 ``M_NOT_FOUND`` if unknown,
        403 ``M_FORBIDDEN`` if not allowed)."""
        self._local_alias(alias)
        room_id = await self.store.resolve(alias)
        creator = await self.store.creator_of(alias)
        if room_id is None or creator is None:
            raise MatrixError(404, "M_NOT_FOUND", f"Room alias {alias} not found")
        may_edit = await may_send_state(self.rooms, room_id, user_id, CANONICAL_ALIAS)
        if creator != user_id and not may_edit and not await self._admin(user_id):
            raise MatrixError(403, "M_FORBIDDEN", "You may not delete this alias")
        await self.store.delete(alias)
        if may_edit:
            await self.drop_from_canonical(room_id, user_id, [alias])

    async def drop_from_canonical(
        self, room_id: str, sender: str, aliases: Sequence[str], *, prune_empty: bool = False
    ) -> None:
        """Remove ``aliases`` from the room's ``m.room.canonical_alias`` event (sent by
        ``sender``), if it names any of them; with ``prune_empty`` an ``alt_aliases``
        left empty is dropped too (a room upgrade leaves the old room's event empty)."""
        room = await self.rooms.events.get_room(room_id)
        if room is None:
            return
        current = await self.rooms.storage.current_state(room.nid)
        ev = await self.rooms.storage.state_event(current, CANONICAL_ALIAS, "")
        if ev is None:
            return
        content = dict(ev.content)
        changed = False
        if content.get("alias") in aliases:
            del content["alias"]
            changed = True
        alt = content.get("alt_aliases")
        if isinstance(alt, list) and any(a in aliases for a in alt):
            kept = [a for a in alt if a not in aliases]
            if kept or not prune_empty:
                content["alt_aliases"] = kept
            else:
                del content["alt_aliases"]
            changed = True
        if changed:
            await self.rooms.set_state(room_id, sender, CANONICAL_ALIAS, "", content)

    async def local_aliases(self, user_id: str, room_id: str) -> list[str]:
        """``GET /rooms/{roomId}/aliases``: joined members, or anyone for a
        ``world_readable`` room; 403 ``M_FORBIDDEN`` otherwise."""
        room = await self.rooms.room_for_reader(room_id)
        if await self.rooms.events.membership_of(room.nid, user_id) != "join":
            current = await self.rooms.storage.current_state(room.nid)
            hv = await self.rooms.storage.state_event(current, "m.room.history_visibility", "")
            if hv is None or hv.content.get("history_visibility") != "world_readable":
                raise MatrixError(403, "M_FORBIDDEN", "You are not a member of this room")
        return await self.store.aliases_of(room_id)

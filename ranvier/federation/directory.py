"""Directory queries across servers: room aliases, the published room directory and
space hierarchies, served to other servers and asked of them for local clients.

Spec: server-server-api "Querying for information" (``GET /query/directory``,
query.yaml), "Public Room Directory" (``GET``/``POST /publicRooms``,
public_rooms.yaml), "Spaces" (``GET /hierarchy/{roomId}``, space_hierarchy.yaml),
"Server Access Control Lists (ACLs)"; client-server-api "Room aliases", "Published room
directory" (``server`` parameter), "Spaces".

Theory of operation
-------------------
*Served* (:class:`DirectoryResident`):

* ``/query/directory``: a local alias -> ``{room_id, servers}`` (the servers of the
  room's joined members, this server first); an alias of another server or an unknown
  one is 404 ``M_NOT_FOUND``;
* ``/publicRooms``: this server's published rooms, exactly as local clients see them
  (:class:`~ranvier.rooms.directory.DirectoryService`: order, filters, paging keys);
* ``/hierarchy``: the room (404 if unknown; 403 if its ACL denies the asking server or
  the server could not peek or join it) with its ``m.space.child`` links as
  ``children_state``, and, for each linked room this server knows, its summary in
  ``children`` when the asking server could peek or join it, else its id in
  ``inaccessible_children``; linked rooms this server does not know are left out, as
  the spec says. "Could peek or join" is: join rule ``public``, ``knock``,
  ``knock_restricted`` or ``restricted`` (the asking server may have a user meeting the
  condition), history ``world_readable``, or a user of the asking server joined or
  invited.

*Asked* (:class:`DirectoryClient`): a remote alias is resolved with the alias's server
(:meth:`DirectoryClient.resolve_alias`: the ``RemoteAliasResolver`` of
:class:`~ranvier.rooms.aliases.AliasStore`, so ``GET /directory/room`` and ``/join``
by alias work for remote aliases); ``/publicRooms?server=`` of a client is passed to that
server (``GET`` without a filter, ``POST`` with one) and its answer returned; the
space hierarchy of a room this server does not hold is asked of the servers its link
names (:meth:`DirectoryClient.hierarchy`, used by the client ``/hierarchy`` walk).
"""

from __future__ import annotations

import logging
from typing import Any

from ranvier.core.events import JsonDict
from ranvier.core.ids import InvalidIdentifier, server_name_of
from ranvier.federation.client import FederationClient, RemoteError, Unreachable, path_segment
from ranvier.federation.room_data import RoomData
from ranvier.http.types import MatrixError
from ranvier.rooms.aliases import AliasService, check_alias_syntax
from ranvier.rooms.directory import DirectoryService
from ranvier.rooms.event_store import RoomInfo
from ranvier.rooms.hierarchy import room_entry
from ranvier.rooms.summary import RoomSummaries

logger = logging.getLogger(__name__)

V1 = "/_matrix/federation/v1"
_OPEN_RULES = ("public", "knock", "knock_restricted", "restricted")


def _server(user_id: str) -> str | None:
    try:
        return server_name_of(user_id)
    except (InvalidIdentifier, ValueError):
        return None


class DirectoryResident:
    """Directory answers for other servers (module docstring)."""

    def __init__(
        self,
        aliases: AliasService,
        directory: DirectoryService,
        summaries: RoomSummaries,
        data: RoomData,
    ) -> None:
        self.aliases = aliases
        self.directory = directory
        self.summaries = summaries
        self.data = data
        self.storage = data.storage
        self.server_name = data.server_name

    async def query_alias(self, alias: str) -> JsonDict:
        """``GET /query/directory?room_alias=``."""
        check_alias_syntax(alias)
        if _server(alias) != self.server_name:
            raise MatrixError(404, "M_NOT_FOUND", "Room alias not found")
        room_id, servers = await self.aliases.resolve(alias)
        return {"room_id": room_id, "servers": servers}

    async def public_rooms(self, **params: Any) -> JsonDict:
        """``GET``/``POST /publicRooms``: this server's directory."""
        return await self.directory.public_rooms(**params)

    async def _accessible(self, room: RoomInfo, origin: str) -> bool:
        current = await self.storage.current_state(room.nid)
        state = await self.storage.state_events(
            current, [("m.room.join_rules", ""), ("m.room.history_visibility", "")]
        )
        rules = state.get(("m.room.join_rules", ""))
        if rules is not None and rules.content.get("join_rule") in _OPEN_RULES:
            return True
        hv = state.get(("m.room.history_visibility", ""))
        if hv is not None and hv.content.get("history_visibility") == "world_readable":
            return True
        for user_id, membership, _ in await self.storage.events.members(room.nid):
            if membership in ("join", "invite") and _server(user_id) == origin:
                return True
        return False

    async def _entry(self, room: RoomInfo, suggested_only: bool) -> JsonDict:
        entry, _ = await room_entry(self.summaries, self.storage, room, suggested_only)
        return entry

    async def hierarchy(self, origin: str, room_id: str, suggested_only: bool) -> JsonDict:
        """``GET /hierarchy/{roomId}?suggested_only=``."""
        room = await self.data.room_for(room_id, origin)
        if not await self._accessible(room, origin):
            raise MatrixError(403, "M_FORBIDDEN", "The room is not accessible to your server")
        root = await self._entry(room, suggested_only)
        children: list[JsonDict] = []
        inaccessible: list[str] = []
        for link in root["children_state"]:
            child = await self.storage.events.get_room(str(link["state_key"]))
            if child is None:
                continue
            allowed = await self.data.acl_allows(child, origin)
            if allowed and await self._accessible(child, origin):
                children.append(await self._entry(child, suggested_only))
            else:
                inaccessible.append(child.room_id)
        return {"room": root, "children": children, "inaccessible_children": inaccessible}


class DirectoryClient:
    """Directory questions asked of other servers for local clients (module docstring)."""

    def __init__(self, client: FederationClient, server_name: str) -> None:
        self.client = client
        self.server_name = server_name

    async def resolve_alias(self, alias: str) -> tuple[str, list[str]] | None:
        """A remote alias -> ``(room_id, servers)``; None when its server does not know
        it. The server failing to answer is 404 ``M_NOT_FOUND`` too (directory.yaml
        defines no other failure)."""
        server = _server(alias)
        if server is None or server == self.server_name:
            return None
        try:
            answer = await self.client.get_json(
                server, f"{V1}/query/directory", {"room_alias": alias}
            )
        except RemoteError as exc:
            logger.info("alias %s: %s answered %s", alias, server, exc)
            return None
        except Unreachable as exc:
            logger.info("alias %s: cannot reach %s: %s", alias, server, exc)
            return None
        room_id = answer.get("room_id") if isinstance(answer, dict) else None
        servers = answer.get("servers") if isinstance(answer, dict) else None
        if not isinstance(room_id, str) or not room_id.startswith("!"):
            logger.info("alias %s: %s gave no room id", alias, server)
            return None
        listed = [s for s in servers if isinstance(s, str)] if isinstance(servers, list) else []
        if server not in listed:
            listed.append(server)
        return room_id, listed

    async def public_rooms(self, server: str, params: JsonDict) -> JsonDict:
        """``/publicRooms`` of ``server`` with the client's ``params`` (``limit``,
        ``since``, ``filter``, ``include_all_networks``, ``third_party_instance_id``).
        A server that refuses with 400 passes its error on; one that cannot be reached
        or fails otherwise is 404 ``M_NOT_FOUND`` (its directory cannot be had)."""
        body = {k: v for k, v in params.items() if v is not None}
        try:
            if "filter" in body:
                answer = await self.client.post_json(server, f"{V1}/publicRooms", body)
            else:
                query = {
                    k: (str(v).lower() if isinstance(v, bool) else v)
                    for k, v in body.items()
                    if isinstance(v, (str, int))
                }
                answer = await self.client.get_json(server, f"{V1}/publicRooms", query)
        except RemoteError as exc:
            if exc.status == 400:
                raise MatrixError(400, exc.errcode or "M_UNKNOWN", exc.error or "Refused") from None
            raise MatrixError(404, "M_NOT_FOUND", f"{server} answered {exc}") from None
        except Unreachable as exc:
            raise MatrixError(404, "M_NOT_FOUND", f"Cannot reach {server}: {exc}") from None
        if not isinstance(answer, dict) or not isinstance(answer.get("chunk"), list):
            raise MatrixError(404, "M_NOT_FOUND", f"{server} answered no room list")
        return answer

    async def hierarchy(
        self, room_id: str, servers: list[str], suggested_only: bool
    ) -> JsonDict | None:
        """``GET /hierarchy/{roomId}`` of the first of ``servers`` that answers with a
        ``room`` object; None when none does (unknown, refused, unreachable)."""
        for server in servers:
            if server == self.server_name:
                continue
            try:
                answer = await self.client.get_json(
                    server,
                    f"{V1}/hierarchy/{path_segment(room_id)}",
                    {"suggested_only": "true" if suggested_only else "false"},
                )
            except (RemoteError, Unreachable) as exc:
                logger.info("hierarchy of %s: %s failed: %s", room_id, server, exc)
                continue
            if isinstance(answer, dict) and isinstance(answer.get("room"), dict):
                return answer
        return None

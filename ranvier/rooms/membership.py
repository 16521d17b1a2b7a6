"""Membership changes of local users: join, invite, leave, kick, ban, unban.

Spec: client-server-api "Room membership" (``/join``, ``/rooms/{roomId}/join``,
``/invite``, ``/leave``, ``/kick``, ``/ban``, ``/unban``); the auth rules of the
room version decide what is allowed (a refusal is 403 ``M_FORBIDDEN``). Each change is
an ``m.room.member`` event sent through the room input pipeline; a small guard runs
in the room's queue first, against the current state, to answer what the auth rules
would allow but the API defines differently: joining or inviting twice sends nothing
new, inviting a member or a banned user is refused, unbanning someone not banned and
kicking someone not in the room are refused, and leaving a room one is not in is a
no-op. Only local users can be invited or joined so far (no federation yet).
"""

from __future__ import annotations

from typing import Any

from ranvier.core.ids import InvalidIdentifier, parse_room_alias
from ranvier.http.types import MatrixError
from ranvier.rooms.event_store import RoomInfo
from ranvier.rooms.pipeline import LocalEvent, RoomContext
from ranvier.rooms.service import RoomService


class MembershipService:
    """Sends membership events on behalf of local users."""

    def __init__(self, rooms: RoomService) -> None:
        self.rooms = rooms

    async def _send(
        self,
        room: RoomInfo,
        sender: str,
        target: str,
        content: dict[str, Any],
        reason: str | None,
        guard: Any,
    ) -> str:
        if reason is not None:
            content["reason"] = reason
        local = LocalEvent(sender, "m.room.member", content, target)
        return (await self.rooms.pipeline.submit(room, local, guard)).event_id

    async def resolve_room(self, room_id_or_alias: str) -> RoomInfo:
        """A local room by id or by local alias (404 ``M_NOT_FOUND`` if unknown)."""
        room_id = room_id_or_alias
        if room_id_or_alias.startswith("#"):
            try:
                parse_room_alias(room_id_or_alias)
            except InvalidIdentifier:
                raise MatrixError(400, "M_INVALID_PARAM", "Invalid room alias") from None
            found = await self.rooms.aliases.resolve(room_id_or_alias)
            if found is None:
                raise MatrixError(404, "M_NOT_FOUND", "Room alias not found")
            room_id = found
        elif not room_id_or_alias.startswith("!"):
            raise MatrixError(400, "M_INVALID_PARAM", "Expected a room ID or alias")
        return await self.rooms.room(room_id)

    async def join(self, room_id_or_alias: str, user_id: str, reason: str | None = None) -> str:
        """Join a local room; return its id. Joining again changes nothing."""
        room = await self.resolve_room(room_id_or_alias)
        content = await self.rooms.member_content(user_id, "join")

        async def guard(ctx: RoomContext) -> str | None:
            ev = await ctx.get("m.room.member", user_id)
            return ev.event_id if ev is not None and ev.membership == "join" else None

        await self._send(room, user_id, user_id, content, reason, guard)
        return room.room_id

    async def invite(
        self, room_id: str, sender: str, target: str, reason: str | None = None
    ) -> str:
        """Invite ``target`` (a local user)."""
        room = await self.rooms.room_for_reader(room_id)
        self.rooms.check_invitee(target)
        content = await self.rooms.member_content(target, "invite")

        async def guard(ctx: RoomContext) -> str | None:
            ev = await ctx.get("m.room.member", target)
            current = ev.membership if ev is not None else None
            if current == "join":
                raise MatrixError(403, "M_FORBIDDEN", f"{target} is already in the room")
            if current == "ban":
                raise MatrixError(403, "M_FORBIDDEN", f"{target} is banned from the room")
            if current == "invite" and ev is not None:
                return ev.event_id
            return None

        return await self._send(room, sender, target, content, reason, guard)

    async def leave(self, room_id: str, user_id: str, reason: str | None = None) -> str | None:
        """Leave (or reject an invite to) a room; None if there was nothing to leave."""
        room = await self.rooms.room_for_reader(room_id)
        sent: list[bool] = []

        async def guard(ctx: RoomContext) -> str | None:
            ev = await ctx.get("m.room.member", user_id)
            if ev is None or ev.membership == "leave":
                return ev.event_id if ev is not None else ""
            sent.append(True)
            return None

        event_id = await self._send(room, user_id, user_id, {"membership": "leave"}, reason, guard)
        return event_id if sent else None

    async def kick(self, room_id: str, sender: str, target: str, reason: str | None = None) -> str:
        """Kick ``target`` (who must be joined, invited or knocking)."""
        room = await self.rooms.room_for_reader(room_id)

        async def guard(ctx: RoomContext) -> str | None:
            ev = await ctx.get("m.room.member", target)
            if ev is None or ev.membership not in ("join", "invite", "knock"):
                raise MatrixError(403, "M_FORBIDDEN", f"{target} is not in the room")
            return None

        return await self._send(room, sender, target, {"membership": "leave"}, reason, guard)

    async def ban(self, room_id: str, sender: str, target: str, reason: str | None = None) -> str:
        """Ban ``target``; banning again changes nothing."""
        room = await self.rooms.room_for_reader(room_id)

        async def guard(ctx: RoomContext) -> str | None:
            ev = await ctx.get("m.room.member", target)
            return ev.event_id if ev is not None and ev.membership == "ban" else None

        return await self._send(room, sender, target, {"membership": "ban"}, reason, guard)

    async def unban(self, room_id: str, sender: str, target: str, reason: str | None = None) -> str:
        """Lift ``target``'s ban (403 ``M_FORBIDDEN`` if not banned)."""
        room = await self.rooms.room_for_reader(room_id)

        async def guard(ctx: RoomContext) -> str | None:
            ev = await ctx.get("m.room.member", target)
            if ev is None or ev.membership != "ban":
                raise MatrixError(403, "M_FORBIDDEN", f"{target} is not banned")
            return None

        return await self._send(room, sender, target, {"membership": "leave"}, reason, guard)

"""Membership changes of local users: join, invite, leave, kick, ban, unban.

Spec: client-server-api "Room membership" (``/join``, ``/rooms/{roomId}/join``,
``/invite``, ``/leave``, ``/kick``, ``/ban``, ``/unban``); the auth rules of the
room version decide what is allowed (a refusal is 403 ``M_FORBIDDEN``). Each change is
an ``m.room.member`` event sent through the room input pipeline; a small guard runs
in the room's queue first, against the current state, to answer what the auth rules
would allow but the API defines differently: joining or inviting twice sends nothing
new, inviting a member is refused (403 ``M_FORBIDDEN``), as is kicking someone not in
the room; unbanning someone not banned, and inviting or kicking a banned user, are 403
``M_BAD_STATE`` ("The state change requested cannot be performed, such as attempting
to unban a user who is not banned", client-server-api "Common error codes"); leaving a
room one is not in is a no-op. Only local users can be invited or joined so far (no federation yet).

Also here (client-server-api "Knocking on rooms", "Restricted rooms", "Leaving rooms",
``GET /members``):

* :meth:`MembershipService.knock`: a ``knock`` event (room v7+, join rule ``knock`` or
  ``knock_restricted``: the auth rules refuse the rest with 403); members, invited
  and banned users cannot knock (403), knocking twice sends nothing new;
* restricted joins: joining a ``restricted``/``knock_restricted`` room without an
  invite needs a ``m.room_membership`` allow condition the user meets, i.e. being
  joined to the named local room (403 ``M_FORBIDDEN`` otherwise); the join event then
  carries ``join_authorised_via_users_server``, a joined user of this server with
  the power to invite, and this server's signature (the auth rules require it);
* :meth:`MembershipService.forget` (:mod:`ranvier.rooms.forgotten`): 400 ``M_UNKNOWN``
  while joined, invited or knocking;
* :meth:`MembershipService.members`: the member events at a sync or pagination token
  (``at``), never past what the reader may see (the state when they left).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ranvier.core.auth import get_named_power_level, get_user_power_level
from ranvier.core.events import Event, JsonDict
from ranvier.core.ids import InvalidIdentifier, parse_room_alias, server_name_of
from ranvier.http.types import MatrixError
from ranvier.rooms.client_format import client_event
from ranvier.rooms.event_store import RoomInfo
from ranvier.rooms.forgotten import ForgottenStore
from ranvier.rooms.pipeline import LocalEvent, RoomContext
from ranvier.rooms.remote_store import RemoteStore
from ranvier.rooms.service import RoomService
from ranvier.rooms.state_store import Snapshot
from ranvier.rooms.summary import allowed_room_ids

AUTHORISING_USER = "join_authorised_via_users_server"


RemoteJoin = Callable[[str, str, Sequence[str], dict[str, Any]], Awaitable[str]]
"""``await remote_join(room_id, user_id, servers, content)`` -> the join event id
(:class:`ranvier.federation.joins.RemoteJoiner`); the same shape serves
``remote_leave`` and ``remote_knock``
(:class:`ranvier.federation.remote_membership.RemoteMembership`)."""


class MembershipService:
    """Sends membership events on behalf of local users."""

    def __init__(self, rooms: RoomService, forgotten: ForgottenStore | None = None) -> None:
        self.rooms = rooms
        self.forgotten = forgotten if forgotten is not None else ForgottenStore(rooms.storage.db)
        self.remote_join: RemoteJoin | None = None
        """Joins rooms this server is not in, over federation (set by the composition
        root when federation is enabled)."""
        self.remote_leave: RemoteJoin | None = None
        """Rejects invites to (rescinds knocks on) rooms this server is not in."""
        self.remote_knock: RemoteJoin | None = None
        """Knocks on rooms this server is not in."""

    async def remote_servers(
        self, room_id: str, user_id: str, servers: Sequence[str] = ()
    ) -> list[str] | None:
        """The servers to ask when ``room_id`` must be handled over federation, or None
        when this server handles it: it is in the room (a local user is joined), or the
        room is purely local. Over federation go unknown rooms, rooms where the user's
        membership is an outlier (an invite or knock received from outside), and rooms
        with remote members but no local one (rejoining after everyone here left).
        Candidates: ``servers``, the sender of the user's membership, the remote members
        last known, the room id's server."""
        room = await self.rooms.events.get_room(room_id)
        candidates = list(servers)
        remote = room is None
        if room is not None:
            members = await self.rooms.events.members(room.nid)
            if any(m == "join" and self.rooms.is_local(u) for u, m, _ in members):
                return None
            store = RemoteStore(self.rooms.storage)
            for member, membership, nid in members:
                if member == user_id and await store.is_outlier(nid):
                    found = (await self.rooms.events.get_by_nids([nid])).get(nid)
                    if found is not None:
                        remote = True
                        with contextlib.suppress(InvalidIdentifier, ValueError):
                            candidates.insert(0, server_name_of(found.event.sender))
                elif membership == "join" and not self.rooms.is_local(member):
                    remote = True
                    with contextlib.suppress(InvalidIdentifier, ValueError):
                        candidates.append(server_name_of(member))
        if not remote:
            return None
        with contextlib.suppress(InvalidIdentifier, ValueError):
            candidates.append(server_name_of(room_id))
        return list(dict.fromkeys(candidates))

    async def _remote_alias(self, alias: str, servers: list[str]) -> str:
        """Resolve a remote alias through the federation directory query (404 if
        unknown); its servers are added to ``servers``."""
        try:
            parse_room_alias(alias)
        except InvalidIdentifier:
            raise MatrixError(400, "M_INVALID_PARAM", "Invalid room alias") from None
        found = None
        if self.rooms.aliases.remote is not None:
            found = await self.rooms.aliases.remote(alias)
        if found is None:
            raise MatrixError(404, "M_NOT_FOUND", "Room alias not found")
        servers.extend(found[1])
        return found[0]

    def _is_remote_alias(self, target: str) -> bool:
        if not target.startswith("#") or self.rooms.aliases.remote is None:
            return False
        try:
            return server_name_of(target) != self.rooms.server_name
        except (InvalidIdentifier, ValueError):
            return False

    async def _over_federation(
        self,
        send: RemoteJoin | None,
        membership: str,
        room_id_or_alias: str,
        user_id: str,
        reason: str | None,
        servers: Sequence[str],
    ) -> tuple[str, bool]:
        """The federation half of :meth:`join` and :meth:`knock`: a remote alias is
        resolved through its server; a room this server does not handle itself
        (:meth:`remote_servers`) gets the ``membership`` event through ``send``.
        Returns ``(room id or alias, True)`` when ``send`` did the work, else the room
        id or local alias to handle here with ``False``; nothing is done without
        ``send`` (federation disabled)."""
        if send is None:
            return room_id_or_alias, False
        via = list(servers)
        room_id = room_id_or_alias
        if self._is_remote_alias(room_id_or_alias):
            room_id = await self._remote_alias(room_id_or_alias, via)
        candidates = None
        if room_id.startswith("!"):
            candidates = await self.remote_servers(room_id, user_id, via)
        if candidates is None:
            return room_id, False
        content = await self.rooms.member_content(user_id, membership)
        if reason is not None:
            content["reason"] = reason
        await send(room_id, user_id, candidates, content)
        return room_id, True

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

    async def join(
        self,
        room_id_or_alias: str,
        user_id: str,
        reason: str | None = None,
        servers: Sequence[str] = (),
    ) -> str:
        """Join a room; return its id. Joining again changes nothing. A room id this
        server does not know is joined over federation through ``servers`` (and the
        server named in the room id) when :attr:`remote_join` is set."""
        room_id_or_alias, remote = await self._over_federation(
            self.remote_join, "join", room_id_or_alias, user_id, reason, servers
        )
        if remote:
            return room_id_or_alias
        room = await self.resolve_room(room_id_or_alias)
        content = await self.rooms.member_content(user_id, "join")
        authoriser = await self.restricted_join_authoriser(room, user_id)
        if authoriser is not None:
            content[AUTHORISING_USER] = authoriser

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
                raise MatrixError(403, "M_BAD_STATE", f"{target} is banned from the room")
            if current == "invite" and ev is not None:
                return ev.event_id
            return None

        return await self._send(room, sender, target, content, reason, guard)

    async def leave(self, room_id: str, user_id: str, reason: str | None = None) -> str | None:
        """Leave (or reject an invite to) a room; None if there was nothing to leave.
        An invite or knock of a room this server is not in is rejected over federation."""
        if self.remote_leave is not None:
            candidates = await self.remote_servers(room_id, user_id)
            known = await self.rooms.events.get_room(room_id)
            if candidates is not None and known is not None:
                membership = await self.rooms.events.membership_of(known.nid, user_id)
                if membership not in ("invite", "knock"):
                    return None
                content: dict[str, Any] = {"membership": "leave"}
                if reason is not None:
                    content["reason"] = reason
                return await self.remote_leave(room_id, user_id, candidates, content)
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
            if ev is not None and ev.membership == "ban":
                raise MatrixError(403, "M_BAD_STATE", f"{target} is banned from the room")
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
        """Lift ``target``'s ban (403 ``M_BAD_STATE`` if not banned: client-server-api
        "Common error codes", ``M_BAD_STATE``)."""
        room = await self.rooms.room_for_reader(room_id)

        async def guard(ctx: RoomContext) -> str | None:
            ev = await ctx.get("m.room.member", target)
            if ev is None or ev.membership != "ban":
                raise MatrixError(403, "M_BAD_STATE", f"{target} is not banned")
            return None

        return await self._send(room, sender, target, {"membership": "leave"}, reason, guard)

    # ---- knocking, restricted joins, forgetting, member lists -----------------------

    async def knock(
        self,
        room_id_or_alias: str,
        user_id: str,
        reason: str | None = None,
        servers: Sequence[str] = (),
    ) -> str:
        """Knock on a room; return its id (see the module docstring). A room this
        server is not in is knocked on over federation through ``servers``."""
        room_id_or_alias, remote = await self._over_federation(
            self.remote_knock, "knock", room_id_or_alias, user_id, reason, servers
        )
        if remote:
            return room_id_or_alias
        room = await self.resolve_room(room_id_or_alias)
        content = await self.rooms.member_content(user_id, "knock")

        async def guard(ctx: RoomContext) -> str | None:
            ev = await ctx.get("m.room.member", user_id)
            current = ev.membership if ev is not None else None
            if current in ("join", "invite", "ban"):
                raise MatrixError(403, "M_FORBIDDEN", f"You cannot knock while {current}")
            return ev.event_id if ev is not None and current == "knock" else None

        await self._send(room, user_id, user_id, content, reason, guard)
        return room.room_id

    async def meets_allow_conditions(self, user_id: str, join_rules: Event | None) -> bool:
        """Whether ``user_id`` is joined to a local room named by an ``m.room_membership``
        allow condition of ``join_rules`` (client-server-api "Restricted rooms")."""
        for room_id in allowed_room_ids(join_rules):
            info = await self.rooms.events.get_room(room_id)
            if (
                info is not None
                and await self.rooms.events.membership_of(info.nid, user_id) == "join"
            ):
                return True
        return False

    async def restricted_join_authoriser(self, room: RoomInfo, user_id: str) -> str | None:
        """For a join that only the restricted join rule can allow: the local user to
        name in ``join_authorised_via_users_server``; None when the join needs none
        (not restricted, or invited or joined already); 403 ``M_FORBIDDEN`` when the
        user meets no allow condition or no local user may invite."""
        rv = room.room_version
        current = await self.rooms.storage.current_state(room.nid)
        keys = [
            ("m.room.create", ""),
            ("m.room.power_levels", ""),
            ("m.room.join_rules", ""),
            ("m.room.member", user_id),
        ]
        state = await self.rooms.storage.state_events(current, keys)
        join_rules = state.get(("m.room.join_rules", ""))
        rule = join_rules.content.get("join_rule") if join_rules is not None else None
        if not (
            (rule == "restricted" and rv.restricted_join_rule)
            or (rule == "knock_restricted" and rv.knock_restricted_join_rule)
        ):
            return None
        member = state.get(("m.room.member", user_id))
        if member is not None and member.membership in ("join", "invite", "ban"):
            return None  # the auth rules decide (allowed, or refused when banned)
        if not await self.meets_allow_conditions(user_id, join_rules):
            raise MatrixError(403, "M_FORBIDDEN", "You do not meet the conditions to join")
        needed = get_named_power_level("invite", state)
        for candidate, membership, _ in await self.rooms.events.members(room.nid):
            if (
                membership == "join"
                and self.rooms.is_local(candidate)
                and get_user_power_level(candidate, state) >= needed
            ):
                return candidate
        raise MatrixError(403, "M_FORBIDDEN", "No user of this server may authorise the join")

    async def forget(self, room_id: str, user_id: str) -> None:
        """``POST /rooms/{roomId}/forget``: 400 ``M_UNKNOWN`` unless the user has left
        or was banned; nothing to do when they never had a membership."""
        room = await self.rooms.events.get_room(room_id)
        if room is None:
            return
        found = await self.forgotten.current_membership(user_id, room.nid)
        if found is None:
            return
        membership, position = found
        if membership not in ("leave", "ban"):
            raise MatrixError(400, "M_UNKNOWN", f"User {user_id} is in room {room_id}")
        await self.forgotten.forget(user_id, room.nid, position)

    async def _snapshot_at(self, room: RoomInfo, position: int) -> Snapshot:
        """The room state after the last event at or before stream ``position``."""
        row = await self.rooms.storage.db.fetchone(
            "SELECT state_after_nid FROM events WHERE room_nid = $1 AND stream_ordering <= $2"
            " AND NOT rejected ORDER BY stream_ordering DESC LIMIT 1",
            room.nid,
            position,
        )
        return await self.rooms.storage.snapshot(0 if row is None else int(row[0]))

    async def members(
        self,
        room_id: str,
        user_id: str,
        membership: str | None = None,
        not_membership: str | None = None,
        at: int | None = None,
    ) -> list[JsonDict]:
        """``GET /rooms/{roomId}/members``: the member events of the state at stream
        position ``at`` (default: now), capped at the state the user may read (the
        state when they left); filtered by ``membership`` and ``not_membership``, which
        together are an "or", as members.yaml defines."""
        room = await self.rooms.room_for_reader(room_id)
        snapshot = await self.rooms.reader_state(room, user_id)
        if at is not None:
            current_nid = await self.rooms.events.current_snapshot_nid(room.nid)
            limit = None
            if snapshot.nid != current_nid:
                found = await self.forgotten.current_membership(user_id, room.nid)
                limit = found[1] if found is not None else None
            if limit is None or at < limit:
                snapshot = await self._snapshot_at(room, at)
        type_nid = await self.rooms.storage.nids.types.lookup("m.room.member")
        nids = [e for (t, _), e in snapshot.state.items() if t == type_nid]
        found_events = await self.rooms.events.get_by_nids(nids)
        out = []
        for stored in sorted(found_events.values(), key=lambda s: s.event.state_key or ""):
            m = stored.event.membership
            if membership is not None and not_membership is not None:
                if m != membership and m == not_membership:
                    continue
            elif (membership is not None and m != membership) or (
                not_membership is not None and m == not_membership
            ):
                continue
            out.append(client_event(stored.event))
        return out

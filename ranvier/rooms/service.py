"""The room service: creating rooms, sending events, reading state and events.

Every write goes through the room input pipeline (:mod:`ranvier.rooms.pipeline`); this
module decides *what* to send and answers reads with the access rules of the spec:

* ``/createRoom`` (client-server-api "Creation"): the initial events of
  :mod:`ranvier.rooms.presets`, first checked in memory against the auth rules (a dry
  run, so an invalid request is 400 ``M_INVALID_ROOM_STATE`` and creates nothing),
  then sent one by one;
* ``/send`` with idempotency per device, room and transaction id
  (client-server-api "Transaction identifiers"), and the checks of
  :attr:`RoomService.send_checks` run in the room's queue (redaction permissions,
  :class:`ranvier.rooms.redactions.RedactionPolicy`; thread and annotation rules,
  :func:`ranvier.rooms.relations.relation_guard`);
* ``/state``: readable by joined users (current state), by users who left (the state
  when they left), and by anyone in ``world_readable`` rooms (client-server-api
  "GET /rooms/{roomId}/state");
* ``/event``: the history visibility rules (:mod:`ranvier.rooms.visibility`), the
  event rendered by :class:`ranvier.rooms.render.ClientEventRenderer` (redactions,
  bundled aggregations).

Membership changes are in :mod:`ranvier.rooms.membership`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from ranvier.core.auth import AuthError, check_auth_rules
from ranvier.core.builder import build_event, select_auth_events
from ranvier.core.events import Event, JsonDict, StateKey
from ranvier.core.format import EventFormatError, check_pdu_format
from ranvier.core.ids import InvalidIdentifier, parse_room_alias, parse_user_id, server_name_of
from ranvier.core.room_versions import RoomVersion, UnknownRoomVersion, get_room_version
from ranvier.http.types import MatrixError
from ranvier.rooms.aliases import AliasStore, AliasTaken
from ranvier.rooms.client_format import client_event
from ranvier.rooms.event_store import RoomInfo, StoredEvent
from ranvier.rooms.forgotten import ForgottenStore
from ranvier.rooms.pipeline import (
    CREATE_KEY,
    Guard,
    LocalEvent,
    RoomContext,
    RoomInput,
    new_room_id,
)
from ranvier.rooms.presets import (
    StateSpec,
    create_content,
    initial_state_events,
    parse_initial_state,
    pick_preset,
)
from ranvier.rooms.redactions import RedactionPolicy, split_redacts
from ranvier.rooms.relations import relation_guard
from ranvier.rooms.render import ClientEventRenderer
from ranvier.rooms.state_store import Snapshot
from ranvier.rooms.storage import RoomStorage
from ranvier.rooms.visibility import allowed, visibility_of

DEFAULT_ROOM_VERSION = "12"
"""client-server-api "Room versions": new rooms should default to v12 (spec v1.16+)."""

ProfileLookup = Callable[[str], Awaitable[Mapping[str, Any]]]
"""``await lookup(user_id)`` -> the user's profile fields (``displayname``, ``avatar_url``)."""

SendCheck = Callable[[RoomStorage, RoomInfo, LocalEvent], Guard | None]
"""``check(storage, room, event)`` -> a guard to run in the room's queue before an event
sent with :meth:`RoomService.send_event` is built (raising refuses it), or None."""


def _all_guards(guards: list[Guard]) -> Guard:
    async def run(ctx: RoomContext) -> str | None:
        for guard in guards:
            answer = await guard(ctx)
            if answer is not None:
                return answer
        return None

    return run


class RoomService:
    """Room creation, sending, and reads with access checks."""

    def __init__(
        self,
        storage: RoomStorage,
        pipeline: RoomInput,
        aliases: AliasStore,
        server_name: str,
        *,
        default_room_version: str = DEFAULT_ROOM_VERSION,
        profile_lookup: ProfileLookup | None = None,
    ) -> None:
        self.storage = storage
        self.events = storage.events
        self.pipeline = pipeline
        self.aliases = aliases
        self.server_name = server_name
        self.default_room_version = get_room_version(default_room_version)
        self.profile_lookup = profile_lookup
        self.renderer = ClientEventRenderer(storage)
        self.redaction_policy = RedactionPolicy()
        self.send_checks: list[SendCheck] = [self.redaction_policy.check, relation_guard]
        self.remote_invites = False
        """Whether users of other servers may be invited (set by the composition root
        when federation is enabled; the pipeline then gets invites countersigned)."""

    # ---- helpers --------------------------------------------------------------------

    async def room(self, room_id: str) -> RoomInfo:
        """The local room ``room_id``, or 404 ``M_NOT_FOUND``."""
        info = await self.events.get_room(room_id)
        if info is None:
            raise MatrixError(404, "M_NOT_FOUND", "Unknown room")
        return info

    async def member_content(self, user_id: str, membership: str) -> dict[str, Any]:
        """Membership content with the user's profile (displayname/avatar_url) if local."""
        content: dict[str, Any] = {"membership": membership}
        if self.profile_lookup is not None and self.is_local(user_id):
            profile = await self.profile_lookup(user_id)
            for key in ("displayname", "avatar_url"):
                value = profile.get(key)
                if isinstance(value, str):
                    content[key] = value
        return content

    def is_local(self, user_id: str) -> bool:
        """Whether ``user_id`` belongs to this server."""
        try:
            return server_name_of(user_id) == self.server_name
        except (InvalidIdentifier, ValueError):
            return False

    def check_invitee(self, user_id: Any) -> str:
        """400 ``M_INVALID_PARAM`` for a malformed user id; 403 for remote users when
        federation is off (:attr:`remote_invites`)."""
        try:
            if not isinstance(user_id, str):
                raise InvalidIdentifier("not a string")
            parse_user_id(user_id)
        except InvalidIdentifier:
            raise MatrixError(400, "M_INVALID_PARAM", f"Invalid user ID {user_id!r}") from None
        if not self.remote_invites and not self.is_local(user_id):
            raise MatrixError(
                403, "M_FORBIDDEN", "Inviting users of other servers needs federation"
            )
        return user_id

    # ---- creating rooms -------------------------------------------------------------

    async def create_room(
        self,
        creator: str,
        *,
        room_version: str | None = None,
        preset: str | None = None,
        name: str | None = None,
        topic: str | None = None,
        invite: Sequence[str] = (),
        initial_state: Any = None,
        power_level_content_override: Mapping[str, Any] | None = None,
        creation_content: Mapping[str, Any] | None = None,
        is_direct: bool = False,
        visibility: str = "private",
        room_alias_name: str | None = None,
    ) -> str:
        """Create a room as ``/createRoom`` describes; return its id."""
        try:
            rv = (
                self.default_room_version
                if room_version is None
                else get_room_version(room_version)
            )
        except UnknownRoomVersion:
            raise MatrixError(
                400, "M_UNSUPPORTED_ROOM_VERSION", f"Unsupported room version {room_version!r}"
            ) from None
        if visibility not in ("public", "private"):
            raise MatrixError(400, "M_INVALID_PARAM", "visibility must be public or private")
        preset = pick_preset(preset, visibility)
        invitees = [self.check_invitee(u) for u in dict.fromkeys(invite) if u != creator]
        specs = parse_initial_state(initial_state)
        alias = None
        if room_alias_name is not None:
            alias = f"#{room_alias_name}:{self.server_name}"
            try:
                parse_room_alias(alias)
            except InvalidIdentifier as exc:
                raise MatrixError(400, "M_INVALID_PARAM", f"Invalid alias: {exc}") from None
            if ":" in room_alias_name or await self.aliases.resolve(alias) is not None:
                raise MatrixError(400, "M_ROOM_IN_USE", "Room alias already taken")
        create = create_content(rv, creator, creation_content or {}, preset, invitees)
        state_specs = initial_state_events(
            rv,
            creator,
            preset=preset,
            invite=invitees,
            initial_state=specs,
            power_level_content_override=power_level_content_override,
            canonical_alias=alias,
            name=name,
            topic=topic,
        )
        join = await self.member_content(creator, "join")
        invites = []
        for user_id in invitees:
            content = await self.member_content(user_id, "invite")
            if is_direct:
                content["is_direct"] = True
            invites.append(StateSpec("m.room.member", user_id, content))
        plan = [StateSpec("m.room.member", creator, join), *state_specs, *invites]
        self._dry_run(rv, creator, create, plan)

        persisted = await self.pipeline.create(rv, creator, create)
        room = persisted.room
        if alias is not None:
            try:
                await self.aliases.create(alias, room.room_id, creator)
            except AliasTaken:
                raise MatrixError(400, "M_ROOM_IN_USE", "Room alias already taken") from None
        for spec in plan:
            await self.pipeline.submit(
                room, LocalEvent(creator, spec.event_type, spec.content, spec.state_key)
            )
        if visibility == "public":
            await self.events.set_published(room.nid, True)
        return room.room_id

    def _dry_run(
        self, rv: RoomVersion, creator: str, create: Mapping[str, Any], plan: list[StateSpec]
    ) -> None:
        """Build and auth-check the whole plan in memory; 400 ``M_INVALID_ROOM_STATE``."""
        key = self.pipeline.signing_key
        room_id = None if rv.room_id_from_create_event else new_room_id(self.server_name)
        try:
            ev = build_event(
                room_version=rv,
                room_id=room_id,
                sender=creator,
                event_type="m.room.create",
                content=create,
                state_key="",
                prev_events=(),
                auth_events=(),
                origin=self.server_name,
                signing_key=key,
            )
            check_pdu_format(ev.pdu, rv)
            check_auth_rules(ev, {})
            state: dict[StateKey, Event] = {CREATE_KEY: ev}
            last = ev
            for spec in plan:
                auth = select_auth_events(
                    rv, spec.event_type, spec.state_key, creator, spec.content, state
                )
                ev = build_event(
                    room_version=rv,
                    room_id=ev.room_id,
                    sender=creator,
                    event_type=spec.event_type,
                    content=spec.content,
                    state_key=spec.state_key,
                    prev_events=[last],
                    auth_events=auth,
                    origin=self.server_name,
                    signing_key=key,
                )
                check_pdu_format(ev.pdu, rv)
                check_auth_rules(ev, state)
                state[(spec.event_type, spec.state_key)] = ev
                last = ev
        except (AuthError, EventFormatError) as exc:
            raise MatrixError(
                400, "M_INVALID_ROOM_STATE", f"Invalid initial room state: {exc}"
            ) from None

    # ---- sending --------------------------------------------------------------------

    async def send_event(
        self,
        room_id: str,
        sender: str,
        event_type: str,
        content: Mapping[str, Any],
        *,
        device_id: str | None = None,
        txn_id: str | None = None,
        txn_scope: str | None = None,
    ) -> str:
        """Send a message event; a repeated ``(device, txn_id)`` to the same endpoint
        returns the first id. ``txn_scope`` names the endpoint (client-server-api
        "Transaction identifiers": same device, same path); by default ``/send`` of
        ``event_type``."""
        room = await self.room_for_reader(room_id)
        txn = (device_id, txn_id) if device_id is not None and txn_id is not None else None
        scope = txn_scope if txn_scope is not None else f"send {event_type}"
        content, redacts = split_redacts(room.room_version, event_type, content)
        local = LocalEvent(
            sender, event_type, content, None, redacts=redacts, txn=txn, txn_scope=scope
        )
        guards = [g for g in (check(self.storage, room, local) for check in self.send_checks) if g]
        guard = _all_guards(guards) if guards else None
        result = await self.pipeline.submit(room, local, guard)
        return result.event_id

    async def set_state(
        self,
        room_id: str,
        sender: str,
        event_type: str,
        state_key: str,
        content: Mapping[str, Any],
    ) -> str:
        """Send a state event; setting the content already in place sends nothing.
        ``m.room.canonical_alias`` is checked first (room_state.yaml: 400
        ``M_INVALID_PARAM`` / ``M_BAD_ALIAS``, :meth:`AliasStore.check_canonical_alias`)."""
        room = await self.room_for_reader(room_id)
        if event_type == "m.room.canonical_alias" and state_key == "":
            current = await self.storage.current_state(room.nid)
            previous = await self.storage.state_event(current, event_type, "")
            await self.aliases.check_canonical_alias(
                room_id, self.server_name, content, previous.content if previous else None
            )

        async def unchanged(ctx: RoomContext) -> str | None:
            ev = await ctx.get(event_type, state_key)
            if ev is not None and ev.sender == sender and ev.content == dict(content):
                return ev.event_id
            return None

        result = await self.pipeline.submit(
            room, LocalEvent(sender, event_type, content, state_key), unchanged
        )
        return result.event_id

    # ---- reading --------------------------------------------------------------------

    async def reader_state(self, room: RoomInfo, user_id: str) -> Snapshot:
        """The state ``user_id`` may read: current if joined or world-readable, the state
        when they left if their membership is ``leave`` (unless they forgot the room:
        :mod:`ranvier.rooms.forgotten`); else 403 ``M_FORBIDDEN``.

        room_state.yaml: "If the user has left the room then the state is taken from
        the state of the room when they left"; a banned user's membership is ``ban``,
        not ``leave``, and they are refused (as Synapse does): the room's state is
        no longer theirs to read."""
        current = await self.storage.current_state(room.nid)
        member = await self.storage.state_event(current, "m.room.member", user_id)
        membership = member.membership if member is not None else None
        if membership == "join":
            return current
        hv = await self.storage.state_event(current, "m.room.history_visibility", "")
        if visibility_of(hv.content if hv else None) == "world_readable":
            return current
        if member is not None and membership == "leave":
            if await ForgottenStore(self.storage.db).is_forgotten(user_id, room.nid):
                raise MatrixError(403, "M_FORBIDDEN", "You have forgotten this room")
            stored = await self.events.get_by_id(member.event_id)
            if stored is not None:
                return await self.storage.snapshot(stored.state_after_nid)
        raise MatrixError(403, "M_FORBIDDEN", "You are not a member of this room")

    async def get_state(self, room_id: str, user_id: str) -> list[JsonDict]:
        """All state events ``user_id`` may read, in the client format."""
        room = await self.room_for_reader(room_id)
        snapshot = await self.reader_state(room, user_id)
        events = await self.storage.state_events(snapshot)
        return [client_event(e) for _, e in sorted(events.items())]

    async def get_state_content(
        self, room_id: str, user_id: str, event_type: str, state_key: str
    ) -> JsonDict:
        """The content of one state event (404 ``M_NOT_FOUND`` if there is none)."""
        return (await self._readable_state_event(room_id, user_id, event_type, state_key)).content

    async def get_state_event(
        self, room_id: str, user_id: str, event_type: str, state_key: str
    ) -> JsonDict:
        """One state event in the client format (rooms.yaml ``?format=event``, v1.16);
        404 ``M_NOT_FOUND`` if there is none."""
        ev = await self._readable_state_event(room_id, user_id, event_type, state_key)
        return client_event(ev)

    async def _readable_state_event(
        self, room_id: str, user_id: str, event_type: str, state_key: str
    ) -> Event:
        room = await self.room_for_reader(room_id)
        snapshot = await self.reader_state(room, user_id)
        ev = await self.storage.state_event(snapshot, event_type, state_key)
        if ev is None:
            raise MatrixError(404, "M_NOT_FOUND", "Event not found")
        return ev

    async def room_for_reader(self, room_id: str) -> RoomInfo:
        """The room, or 403 ``M_FORBIDDEN`` (an unknown room looks like one not joined)."""
        info = await self.events.get_room(room_id)
        if info is None:
            raise MatrixError(403, "M_FORBIDDEN", "You are not a member of this room")
        return info

    async def can_see(self, user_id: str, stored: StoredEvent) -> bool:
        """The history visibility rules for ``user_id`` and ``stored``; a user who forgot
        the room (:mod:`ranvier.rooms.forgotten`) sees only ``world_readable`` history
        (leaving.yaml ``/forget``: "a user will no longer be able to retrieve history")."""
        before = await self.storage.snapshot(stored.state_before_nid)
        found = await self.storage.state_events(
            before, [("m.room.history_visibility", ""), ("m.room.member", user_id)]
        )
        hv = found.get(("m.room.history_visibility", ""))
        member = found.get(("m.room.member", user_id))
        vis = visibility_of(hv.content if hv else None)
        membership = member.membership if member is not None else None
        joined_later: bool | None = None

        async def later() -> bool:
            nonlocal joined_later
            if joined_later is None:
                joined_later = await self.events.joined_after(
                    stored.room_nid, user_id, stored.stream_ordering
                )
            return joined_later

        forgotten: bool | None = None

        async def check(v: str, m: str | None) -> bool:
            nonlocal forgotten
            if v == "world_readable":
                return True
            if forgotten is None:
                store = ForgottenStore(self.storage.db)
                forgotten = await store.is_forgotten(user_id, stored.room_nid)
            if forgotten:
                return False
            if allowed(v, m, False):
                return True
            return v == "shared" and await later()

        ev = stored.event
        if await check(vis, membership):
            return True
        if ev.type == "m.room.history_visibility" and ev.state_key == "":
            return await check(visibility_of(ev.content), membership)
        if ev.type == "m.room.member" and ev.state_key == user_id:
            return await check(vis, ev.membership)
        return False

    async def get_event(
        self, room_id: str, event_id: str, user_id: str, device_id: str | None = None
    ) -> JsonDict:
        """``GET /rooms/{roomId}/event/{eventId}``: 404 ``M_NOT_FOUND`` if unknown, in
        another room, rejected, or not visible to the user."""
        stored = await self.events.get_by_id(event_id)
        if (
            stored is None
            or stored.event.room_id != room_id
            or stored.rejected
            or not await self.can_see(user_id, stored)
        ):
            raise MatrixError(404, "M_NOT_FOUND", "Event not found")
        return await self.renderer.render_one(stored, user_id, device_id=device_id)

    async def joined_rooms(self, user_id: str) -> list[str]:
        """Ids of the rooms ``user_id`` is joined to."""
        return await self.events.rooms_of_user(user_id, "join")

    async def joined_members(self, room_id: str, user_id: str) -> dict[str, JsonDict]:
        """``{user_id: {display_name, avatar_url}}`` of joined members; the requester must
        be joined (403 ``M_FORBIDDEN``)."""
        room = await self.room_for_reader(room_id)
        if await self.events.membership_of(room.nid, user_id) != "join":
            raise MatrixError(403, "M_FORBIDDEN", "You are not joined to this room")
        rows = [r for r in await self.events.members(room.nid) if r[1] == "join"]
        found = await self.events.get_by_nids(r[2] for r in rows)
        out: dict[str, JsonDict] = {}
        for member, _, nid in rows:
            content = found[nid].event.content if nid in found else {}
            out[member] = {
                "display_name": content.get("displayname"),
                "avatar_url": content.get("avatar_url"),
            }
        return out

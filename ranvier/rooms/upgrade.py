"""Room upgrades (client-server-api "Room Upgrades", room_upgrades.yaml: ``POST
/rooms/{roomId}/upgrade``).

Theory of operation
-------------------
:meth:`UpgradeService.upgrade` follows the spec's "Server behaviour":

1. The room must be known (404 ``M_NOT_FOUND``), the version supported (400
   ``M_UNSUPPORTED_ROOM_VERSION``), and the user joined with the power level to send
   ``m.room.tombstone`` (403 ``M_FORBIDDEN``).
2. The new room's ``m.room.create`` has ``predecessor`` (the old room id and the
   tombstone's event id), the ``room_version``, and the old create event's ``type``
   and ``m.federate``. Additional creators (v12+) are only those given in the
   request (v1.16: they are never copied). To name the tombstone in ``predecessor``,
   the id of a v1-v11 room is chosen first and the tombstone sent before the room is
   made; a v12+ room id is the hash of its create event, which cannot contain the
   tombstone's id (the tombstone names the new room), so there ``event_id`` is left
   out, as v1.16 allows, and the room is made first.
3. The transferable state is copied: the spec's list plus the space links
   (``m.space.child``/``m.space.parent``) and the canonical alias, none of them
   sensitive to who sent them. Power levels are copied too, with the upgrading user
   raised (only for the copy) to a level that can send all of it, then set back to
   their own level in a final power levels event; into a v12+ room the creators are
   left out of ``users`` (their power is implicit there), and out of a v12 room the
   upgrading creator gets 100. Bans are copied, and local users with a pending
   invite are invited again. Membership otherwise is not copied: servers cannot
   speak for other servers' users.
4. Local aliases move to the new room, and the directory listing with them; the old
   room's ``m.room.canonical_alias`` drops them when the user may change it.
5. ``m.room.tombstone`` in the old room (``body``, ``replacement_room``).
6. The old room's ``events_default`` and ``invite`` rise to ``max(50,
   users_default + 1)`` when the user may change power levels there.

The whole new room is checked in memory against the auth rules before anything is
sent (:meth:`RoomService._dry_run`), so a refused copy creates nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from ranvier.core.auth import get_required_power_level, get_user_power_level
from ranvier.core.events import Event, StateKey
from ranvier.core.ids import InvalidIdentifier, parse_user_id
from ranvier.core.room_versions import RoomVersion, UnknownRoomVersion, get_room_version
from ranvier.http.types import MatrixError
from ranvier.rooms.aliases import AliasService
from ranvier.rooms.event_store import RoomInfo
from ranvier.rooms.pipeline import LocalEvent, new_room_id
from ranvier.rooms.presets import StateSpec
from ranvier.rooms.service import RoomService

TOMBSTONE = "m.room.tombstone"
POWER_LEVELS = "m.room.power_levels"

COPIED_TYPES = (
    "m.room.server_acl",
    "m.room.encryption",
    "m.room.name",
    "m.room.avatar",
    "m.room.topic",
    "m.room.guest_access",
    "m.room.history_visibility",
    "m.room.join_rules",
    "m.room.canonical_alias",
    "m.space.child",
    "m.space.parent",
)
"""State copied to the new room (client-server-api "Room Upgrades", step 3), besides the
power levels."""


def _levels(content: dict[str, Any]) -> list[int]:
    """Every integer level named in a power levels content."""
    out = [v for v in content.values() if isinstance(v, int) and not isinstance(v, bool)]
    for key in ("users", "events", "notifications"):
        sub = content.get(key)
        if isinstance(sub, dict):
            out += [v for v in sub.values() if isinstance(v, int) and not isinstance(v, bool)]
    return out


def new_power_levels(
    old: dict[str, Any] | None,
    old_rv: RoomVersion,
    new_rv: RoomVersion,
    user_id: str,
    user_level: int | float,
    creators: Sequence[str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(boosted, final)`` power levels contents of the new room: ``final`` is the old
    content adapted to the new version, ``boosted`` the same with the upgrading user
    able to send every copied event (step 3 of the module docstring)."""
    final = dict(old or {})
    users = dict(final.get("users") or {})
    if new_rv.privileged_creators:
        for creator in creators:
            users.pop(creator, None)
    elif user_id not in users:
        # Out of a v12 room (the user's power was implicit), or a room without levels.
        users[user_id] = 100 if old_rv.privileged_creators or old is None else int(user_level)
    final["users"] = users
    boosted = dict(final)
    if not new_rv.privileged_creators:
        top = max([100, *_levels(final)])
        boosted["users"] = {**users, user_id: top}
    return boosted, final


class UpgradeService:
    """``POST /rooms/{roomId}/upgrade``."""

    def __init__(self, rooms: RoomService, aliases: AliasService) -> None:
        self.rooms = rooms
        self.aliases = aliases

    async def upgrade(
        self,
        room_id: str,
        user_id: str,
        new_version: str,
        additional_creators: Sequence[str] = (),
    ) -> str:
        """Upgrade the room; return the replacement room's id."""
        old = await self.rooms.events.get_room(room_id)
        if old is None:
            raise MatrixError(404, "M_NOT_FOUND", "Unknown room")
        try:
            rv = get_room_version(new_version)
        except UnknownRoomVersion:
            raise MatrixError(
                400, "M_UNSUPPORTED_ROOM_VERSION", f"Unsupported room version {new_version!r}"
            ) from None
        for extra in additional_creators:
            try:
                parse_user_id(extra)
            except InvalidIdentifier:
                raise MatrixError(
                    400, "M_INVALID_PARAM", f"Invalid user ID in additional_creators: {extra!r}"
                ) from None
        state = await self.rooms.storage.state_events(
            await self.rooms.storage.current_state(old.nid)
        )
        member = state.get(("m.room.member", user_id))
        level = get_user_power_level(user_id, state)
        if (
            member is None
            or member.membership != "join"
            or level < get_required_power_level(TOMBSTONE, "", state)
        ):
            raise MatrixError(403, "M_FORBIDDEN", "You cannot upgrade this room")

        extras = [u for u in dict.fromkeys(additional_creators) if u != user_id]
        create = self._create_content(rv, user_id, state, room_id, extras)
        join = await self.rooms.member_content(user_id, "join")
        plan = self._plan(old, rv, user_id, level, state, [user_id, *extras], join)
        self.rooms._dry_run(rv, user_id, {**create, "predecessor": {"room_id": room_id}}, plan)

        if rv.room_id_from_create_event:
            persisted = await self.rooms.pipeline.create(rv, user_id, create)
            new = persisted.room
            await self._tombstone(old, user_id, new.room_id)
        else:
            new_id = new_room_id(self.rooms.server_name)
            tombstone_id = await self._tombstone(old, user_id, new_id)
            create["predecessor"]["event_id"] = tombstone_id
            new = (await self.rooms.pipeline.create(rv, user_id, create, new_id)).room
        for spec in plan:
            await self.rooms.pipeline.submit(
                new, LocalEvent(user_id, spec.event_type, spec.content, spec.state_key)
            )
        await self._move_aliases(old, new, user_id)
        await self._restrict_old_room(old, user_id, state)
        return new.room_id

    def _create_content(
        self,
        rv: RoomVersion,
        user_id: str,
        state: dict[StateKey, Event],
        room_id: str,
        extras: list[str],
    ) -> dict[str, Any]:
        old_create = state.get(("m.room.create", ""))
        old_content = old_create.content if old_create is not None else {}
        content: dict[str, Any] = {
            "room_version": rv.identifier,
            "predecessor": {"room_id": room_id},
        }
        if not rv.implicit_room_creator:
            content["creator"] = user_id
        for key in ("type", "m.federate"):
            if key in old_content:
                content[key] = old_content[key]
        if rv.privileged_creators and extras:
            content["additional_creators"] = extras
        return content

    def _plan(
        self,
        old: RoomInfo,
        rv: RoomVersion,
        user_id: str,
        level: int | float,
        state: dict[StateKey, Event],
        creators: list[str],
        join: dict[str, Any],
    ) -> list[StateSpec]:
        """The events of the new room after its create event, in order."""
        pl = state.get((POWER_LEVELS, ""))
        boosted, final = new_power_levels(
            dict(pl.content) if pl is not None else None,
            old.room_version,
            rv,
            user_id,
            level,
            creators,
        )
        plan = [
            StateSpec("m.room.member", user_id, join),
            StateSpec(POWER_LEVELS, "", boosted),
        ]
        for (event_type, state_key), ev in sorted(state.items()):
            if event_type in COPIED_TYPES and ev.content:
                plan.append(StateSpec(event_type, state_key, dict(ev.content)))
        for (event_type, state_key), ev in sorted(state.items()):
            if event_type != "m.room.member" or state_key == user_id:
                continue
            if ev.membership == "ban":
                plan.append(StateSpec("m.room.member", state_key, {"membership": "ban"}))
            elif ev.membership == "invite" and self.rooms.is_local(state_key):
                content = {"membership": "invite"}
                for key in ("displayname", "avatar_url", "is_direct"):
                    if key in ev.content:
                        content[key] = ev.content[key]
                plan.append(StateSpec("m.room.member", state_key, content))
        if boosted != final:
            plan.append(StateSpec(POWER_LEVELS, "", final))
        return plan

    async def _tombstone(self, old: RoomInfo, user_id: str, replacement: str) -> str:
        content = {"body": "This room has been replaced", "replacement_room": replacement}
        submitted = await self.rooms.pipeline.submit(
            old, LocalEvent(user_id, TOMBSTONE, content, "")
        )
        return submitted.event_id

    async def _move_aliases(self, old: RoomInfo, new: RoomInfo, user_id: str) -> None:
        await self.aliases.store.move(old.room_id, new.room_id)
        # Read back rather than trusting move()'s answer: the join of the new room may
        # have moved them already (ranvier.rooms.upgrade_follow).
        moved = await self.aliases.store.aliases_of(new.room_id)
        if await self.rooms.events.is_published(old.nid):
            await self.rooms.events.set_published(new.nid, True)
            await self.rooms.events.set_published(old.nid, False)
        if moved:
            # (suppressed: the user may not be allowed to change the old room's alias event)
            with contextlib.suppress(MatrixError):
                await self.aliases.drop_from_canonical(
                    old.room_id, user_id, moved, prune_empty=True
                )

    async def _restrict_old_room(
        self, old: RoomInfo, user_id: str, state: dict[StateKey, Event]
    ) -> None:
        pl = state.get((POWER_LEVELS, ""))
        if pl is None:
            return
        content = dict(pl.content)
        users_default = content.get("users_default", 0)
        floor = max(50, (users_default if isinstance(users_default, int) else 0) + 1)
        changed = False
        for key, default in (("events_default", 0), ("invite", 0)):
            value = content.get(key, default)
            if not isinstance(value, int) or value < floor:
                content[key] = floor
                changed = True
        if not changed:
            return
        # (suppressed: the user may send the tombstone but not change power levels)
        with contextlib.suppress(MatrixError):
            await self.rooms.pipeline.submit(old, LocalEvent(user_id, POWER_LEVELS, content, ""))

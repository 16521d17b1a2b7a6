"""The user directory (client-server-api "User Directory", users.yaml).

The spec: the homeserver "MUST at a minimum consider users who are visible to the
requester based on their membership in rooms known to the homeserver": users that
share a room with the requester, and users joined to rooms with a ``public`` join rule
or a ``world_readable`` history visibility. "The search MUST consider local users ...
and SHOULD query remote users": remote users are found through the rooms this server
is in. With ``user_api.user_directory.search_all_users`` every local account is
searchable too (as Synapse's option of that name).

Theory of operation
-------------------
:class:`UserDirectory` keeps the index of :mod:`ranvier.users.directory_store` from
three sources:

* the room output bus (:data:`~ranvier.rooms.outputs.ROOM_EVENTS`). A join of a local
  user to a room not yet tracked starts tracking it: its current join rule, history
  visibility and joined members are read once (O(members), as when the server joins a
  room over federation, whose state arrives without a bus message per event). After
  that each membership event costs O(1): a join adds the member (a remote user's
  display name and avatar come from the event), a leave, kick or ban removes it, and
  a user left in no tracked room is unlisted. When the last local member leaves, the
  server has left the room: the room and its members are forgotten (O(members)). A
  change of ``m.room.join_rules`` or ``m.room.history_visibility`` re-reads the two
  from the current state and updates one row: visibility is decided at search time.
* the profile service: a local user's listing shows their global profile (room-
  specific names are not what a directory shows), updated on every change.
* account creation and deactivation: with ``search_all_users`` new accounts are
  listed at once; deactivated accounts are unlisted and never listed again (they stay
  joined to their rooms, so their memberships still count as the server's).

Messages of one room arrive in order, but the state read when a room starts being
tracked may be ahead of the messages still queued; every step sets a row to what an
event says, so applying those later messages leaves the index as the final state says.
The index is derived data: on first start (no ``user_directory_built`` meta key), and
on the first start with ``search_all_users`` on, it is built from the rooms local users
are joined to (and the local accounts); a message lost in a crash is repaired when that
user or room changes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from ranvier.db.api import Database
from ranvier.db.meta import get_meta, set_meta
from ranvier.rooms.outputs import RoomEventPersisted
from ranvier.rooms.storage import RoomStorage
from ranvier.users.directory_store import DirectoryEntry, UserDirectoryStore, clean_value
from ranvier.users.profiles import ProfileStore

logger = logging.getLogger(__name__)

BUILT_META_KEY = "user_directory_built"
DEFAULT_LIMIT = 10
MAX_LIMIT = 1000
_ROOM_KEYS = frozenset({"m.room.join_rules", "m.room.history_visibility"})


def is_public(join_rule: Any, history_visibility: Any) -> bool:
    """Whether a room's members are visible to everyone (see the module docstring)."""
    return bool(join_rule == "public" or history_visibility == "world_readable")


class UserDirectory:
    """Maintains and searches the user directory index."""

    def __init__(
        self,
        db: Database,
        rooms: RoomStorage,
        profiles: ProfileStore,
        is_local: Callable[[str], bool],
        *,
        search_all_users: bool = False,
    ) -> None:
        self.db = db
        self.store = UserDirectoryStore(db)
        self.rooms = rooms
        self.profiles = profiles
        self.is_local = is_local
        self.search_all_users = search_all_users
        self._build: asyncio.Task[None] | None = None

    # -- searching ----------------------------------------------------------------------

    async def search(
        self, requester: str, term: str, limit: int = DEFAULT_LIMIT
    ) -> tuple[list[DirectoryEntry], bool]:
        """Users visible to ``requester`` matching ``term`` (at most ``limit``, capped at
        :data:`MAX_LIMIT`), and whether there were more."""
        return await self.store.search(
            requester,
            term,
            max(0, min(limit, MAX_LIMIT)),
            search_all_local=self.search_all_users,
        )

    # -- the room output bus ------------------------------------------------------------

    async def on_room_event(self, msg: RoomEventPersisted) -> None:
        """A bus handler for :data:`~ranvier.rooms.outputs.ROOM_EVENTS`."""
        if msg.state_key is None:
            return
        if msg.event_type == "m.room.member":
            await self._on_member(msg, msg.state_key)
        elif (
            msg.event_type in _ROOM_KEYS
            and msg.state_key == ""
            and await self.store.room_public(msg.room_id) is not None
        ):
            await self.store.set_room_public(msg.room_id, await self._room_public(msg.room_id))

    async def _on_member(self, msg: RoomEventPersisted, user_id: str) -> None:
        local = self.is_local(user_id)
        tracked = await self.store.room_public(msg.room_id) is not None
        if msg.membership == "join":
            if not tracked:
                if local:
                    await self.track_room(msg.room_id)
                return
            content = msg.pdu.get("content")
            await self._list(user_id, content if isinstance(content, dict) else {}, msg.room_id)
            return
        if not tracked:
            return
        if await self.store.remove_member(msg.room_id, user_id):
            await self._unlist_if_roomless(user_id)
        if local and not await self.store.has_local_member(msg.room_id):
            await self.untrack_room(msg.room_id)

    async def _room_public(self, room_id: str) -> bool:
        room = await self.rooms.events.get_room(room_id)
        if room is None:
            return False
        current = await self.rooms.current_state(room.nid)
        state = await self.rooms.state_events(
            current, [("m.room.join_rules", ""), ("m.room.history_visibility", "")]
        )
        rules = state.get(("m.room.join_rules", ""))
        hv = state.get(("m.room.history_visibility", ""))
        return is_public(
            rules.content.get("join_rule") if rules is not None else None,
            hv.content.get("history_visibility") if hv is not None else None,
        )

    async def track_room(self, room_id: str) -> None:
        """Start tracking a room a local user is joined to: its publicness and joined
        members from the current state (nothing if no local user is joined now)."""
        room = await self.rooms.events.get_room(room_id)
        if room is None:
            return
        joined = [
            (u, nid) for u, m, nid in await self.rooms.events.members(room.nid) if m == "join"
        ]
        if not any(self.is_local(u) for u, _ in joined):
            return
        await self.store.track_room(
            room_id, await self._room_public(room_id), ((u, self.is_local(u)) for u, _ in joined)
        )
        remote = [(u, nid) for u, nid in joined if not self.is_local(u)]
        events = await self.rooms.events.get_by_nids(nid for _, nid in remote)
        for user_id, _ in joined:
            if self.is_local(user_id):
                await self._list(user_id, {})
        for user_id, nid in remote:
            stored = events.get(nid)
            await self._list(user_id, stored.event.content if stored is not None else {})

    async def untrack_room(self, room_id: str) -> None:
        """Forget a room this server left; unlist its members who are in no other."""
        for user_id in await self.store.untrack_room(room_id):
            await self._unlist_if_roomless(user_id)

    async def _list(
        self, user_id: str, member_content: dict[str, Any], room_id: str | None = None
    ) -> None:
        """List ``user_id`` (as a member of ``room_id`` when given): a local user with
        their profile (read once, then kept by :meth:`on_profile_change`), a remote one
        with the member event's. Reads first; writes, in one transaction, only what
        changed (a join that only renames costs two reads and one write)."""
        local = self.is_local(user_id)
        add_to = room_id if room_id and not await self.store.is_member(room_id, user_id) else None
        current = await self.store.profile(user_id)
        wanted: tuple[str | None, str | None] | None = None
        if local:
            if current is None and not await self.store.deactivated(user_id):
                profile = await self.profiles.get(user_id)
                wanted = (
                    clean_value(profile.get("displayname")),
                    clean_value(profile.get("avatar_url")),
                )
        else:
            got = (
                clean_value(member_content.get("displayname")),
                clean_value(member_content.get("avatar_url")),
            )
            wanted = None if got == current else got
        if add_to is not None or wanted is not None:
            await self.store.record(user_id, local, room_id=add_to, profile=wanted)

    async def _unlist_if_roomless(self, user_id: str) -> None:
        if self.search_all_users and self.is_local(user_id):
            return
        if not await self.store.in_any_room(user_id):
            await self.store.remove_user(user_id)

    # -- accounts and profiles ----------------------------------------------------------

    async def on_profile_change(self, user_id: str, profile: dict[str, Any]) -> None:
        """A :data:`ranvier.users.profiles.ProfileListener`: relist a listed local user."""
        if not self.is_local(user_id):
            return
        listed = await self.store.profile(user_id) is not None
        if listed or (self.search_all_users and not await self.store.deactivated(user_id)):
            await self.store.set_profile(
                user_id, profile.get("displayname"), profile.get("avatar_url"), True
            )

    async def on_account_created(self, user_id: str) -> None:
        """List a new local account when every local user is searchable."""
        if self.search_all_users:
            profile = await self.profiles.get(user_id)
            await self.store.set_profile(
                user_id, profile.get("displayname"), profile.get("avatar_url"), True
            )

    async def on_deactivated(self, user_id: str, erase: bool) -> None:
        """An ``AccountService.deactivation_listeners`` entry: unlist the user (their
        room memberships stay recorded: the account stays joined to its rooms, and is
        not listed again while deactivated)."""
        await self.store.remove_user(user_id)

    # -- building -----------------------------------------------------------------------

    def start(self) -> None:
        """Build the index in the background if it has never been built."""
        if self._build is None:
            self._build = asyncio.get_running_loop().create_task(self._build_if_needed())

    async def stop(self) -> None:
        """Stop a build still running (it starts again on the next start)."""
        if self._build is not None and not self._build.done():
            self._build.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._build

    async def wait_built(self) -> None:
        """Wait for a build started by :meth:`start` to finish."""
        if self._build is not None:
            await self._build

    async def _build_if_needed(self) -> None:
        # "rooms": built from rooms; "all": every local account listed as well (so that
        # turning search_all_users on later lists the accounts that are in no room).
        wanted = "all" if self.search_all_users else "rooms"
        try:
            built = await get_meta(self.db, BUILT_META_KEY)
            if built is None or (wanted == "all" and built != "all"):
                await self.rebuild()
                await set_meta(self.db, BUILT_META_KEY, wanted)
        except Exception:
            logger.exception("building the user directory failed")

    async def rebuild(self) -> None:
        """Track every room a local user is joined to (and list every local account
        with ``search_all_users``); idempotent."""
        for room_id in await self.store.rooms_with_local_members():
            await self.track_room(room_id)
        if self.search_all_users:
            for user_id in await self.store.active_local_accounts():
                await self.on_account_created(user_id)

"""History visibility over many events at once, for ``/sync``, ``/messages`` and
``/context`` (client-server-api "Room History Visibility", "Server behaviour").

The rules themselves are the pure :func:`ranvier.rooms.visibility.allowed`; this module
evaluates them for a batch of events of one room and one user cheaply: the state that
decides (``m.room.history_visibility`` and the user's ``m.room.member``) is read once per
distinct state snapshot (messages share their snapshot), and "did the user join after
this event" (rule 3, ``shared``) comes from one query listing the user's membership
events in the room. As in :meth:`ranvier.rooms.service.RoomService.can_see`, for a
history visibility event and for the user's own membership event the state after the
event may allow it too.

A user who forgot the room (:mod:`ranvier.rooms.forgotten`; client-server-api "Leaving
rooms": "a user will no longer be able to retrieve history") counts as never having been
a member: only ``world_readable`` history stays visible to them. Whether they forgot it
is read once, when a membership rule would be needed; callers that know the answer
(``/sync`` never shows forgotten rooms) pass it in.

Events of a user who deactivated with ``erase`` (:mod:`ranvier.users.erasure`) are
shown redacted to users who could not see them before the erasure
(:meth:`HistoryFilter.as_seen`; account_deactivation.yaml: "users ... which join the
room after the erasure request are served redacted copies ... Users which had
visibility on those events prior to the erasure are still able to see unredacted
copies"): a user joined when the event was sent keeps it whole, and so does one who
joined after it but before the erasure (the history visibility let them see it); one
whose first join after the event is later than the erasure, or who never joined (a
world-readable room), gets it redacted. Sytest's 32erasure expects the second case
redacted too, as Synapse does ("joined when sent" only); the spec's text decides here.

Redactions that would not apply to their target (unknown, in another room, or not
allowed: :func:`ranvier.rooms.redactions.redaction_withheld`) are not shown either
(rooms fragment v3-handling-redactions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ranvier.core.events import Event
from ranvier.core.redaction import redact
from ranvier.rooms.event_store import RoomInfo, StoredEvent
from ranvier.rooms.forgotten import ForgottenStore
from ranvier.rooms.redactions import REDACTION, redaction_withheld
from ranvier.rooms.visibility import allowed, visibility_of
from ranvier.sync.store import SyncStore
from ranvier.users.erasure import ErasedUsers

_HV = ("m.room.history_visibility", "")


class HistoryFilter:
    """Decides which events of one room a user may see."""

    def __init__(
        self, store: SyncStore, room: RoomInfo, user_id: str, *, forgotten: bool | None = None
    ) -> None:
        self.store = store
        self.storage = store.storage
        self.room = room
        self.user_id = user_id
        self._at: dict[int, tuple[str, str | None]] = {}
        self._joins: list[int] | None = None
        self._forgotten = forgotten
        self._erased: dict[str, int | None] = {}
        self._join_times: list[tuple[int, int]] | None = None

    async def _state(self, snapshot_nid: int) -> tuple[str, str | None]:
        found = self._at.get(snapshot_nid)
        if found is None:
            snap = await self.storage.snapshot(snapshot_nid)
            events = await self.storage.state_events(snap, [_HV, ("m.room.member", self.user_id)])
            hv = events.get(_HV)
            member = events.get(("m.room.member", self.user_id))
            found = (
                visibility_of(hv.content if hv is not None else None),
                member.membership if member is not None else None,
            )
            self._at[snapshot_nid] = found
        return found

    async def _joined_after(self, stream_ordering: int) -> bool:
        if self._joins is None:
            history = await self.store.membership_events(self.room, self.user_id)
            self._joins = [s for s, _, m in history if m == "join"]
        return any(s > stream_ordering for s in self._joins)

    async def _is_forgotten(self) -> bool:
        if self._forgotten is None:
            forgotten = ForgottenStore(self.storage.db)
            self._forgotten = await forgotten.is_forgotten(self.user_id, self.room.nid)
        return self._forgotten

    async def _check(self, visibility: str, membership: str | None, stream: int) -> bool:
        if visibility == "world_readable":
            return True
        if await self._is_forgotten():
            return False
        if allowed(visibility, membership, False):
            return True
        return visibility == "shared" and await self._joined_after(stream)

    async def visible(self, stored: StoredEvent) -> bool:
        """Whether the user may see ``stored``."""
        if stored.event.type == REDACTION and await redaction_withheld(self.storage, stored):
            return False
        visibility, membership = await self._state(stored.state_before_nid)
        if await self._check(visibility, membership, stored.stream_ordering):
            return True
        ev = stored.event
        if ev.type == _HV[0] and ev.state_key == "":
            after = visibility_of(ev.content)
            return await self._check(after, membership, stored.stream_ordering)
        if ev.type == "m.room.member" and ev.state_key == self.user_id:
            return await self._check(visibility, ev.membership, stored.stream_ordering)
        return False

    async def as_seen(self, stored: StoredEvent) -> StoredEvent:
        """``stored`` as the user is shown it: redacted when its sender was erased and
        the user could not see it before the erasure (module docstring)."""
        ev = stored.event
        if stored.redacted_by is not None:
            return stored
        erased_ts = await self._sender_erased_at(ev.sender)
        if erased_ts is None:
            return stored
        _, membership = await self._state(stored.state_before_nid)
        if membership == "join":
            return stored
        if self._join_times is None:
            self._join_times = await self.store.join_times(self.room, self.user_id)
        if any(s > stored.stream_ordering and ts < erased_ts for s, ts in self._join_times):
            return stored
        rv = ev.room_version
        return replace(stored, event=Event(redact(ev.pdu, rv), rv, ev.event_id))

    async def _sender_erased_at(self, sender: str) -> int | None:
        if sender not in self._erased:
            self._erased[sender] = await ErasedUsers(self.storage.db).erased_at(sender)
        return self._erased[sender]

    async def filter(self, events: Sequence[StoredEvent]) -> list[StoredEvent]:
        """The events of ``events`` the user may see, in the same order."""
        return [s for s in events if await self.visible(s)]

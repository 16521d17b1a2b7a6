"""The ``rooms.join`` and ``rooms.leave`` sections of ``/sync`` (client-server-api
"Syncing", sync.yaml "Joined Room" and "Left Room").

A joined room carries its :mod:`timeline <ranvier.sync.timeline>` (with ``limited`` and
``prev_batch``), ``state`` before the timeline (or ``state_after``, its end, when the
client asked with ``use_state_after``), per-room ``account_data``, ``ephemeral`` (empty:
no typing or receipts yet), ``unread_notifications`` (zero: no push rules yet) and,
when membership may have changed, ``summary`` (``m.heroes`` when the room has no name
or canonical alias, and the joined and invited counts).

A room is sent whole (full state, timeline from the start of the range) on an initial
sync, with ``full_state``, and when the user joined it since ``since``; otherwise only
what changed in ``(since, upto]``, and not at all when nothing did. A newly joined
room's timeline holds its latest visible events, as on an initial sync (``full_state``
keeps the timeline to ``(since, upto]``, as the spec says), and is ``limited`` unless it
reaches back to the create event: the client holds nothing of the room, so there is a
gap before the timeline whenever earlier events exist (Synapse marks these rooms the
same way). A left room (leave
or ban) is sent when the user left it since ``since``, or on an initial sync when the
filter has ``include_leave``; its timeline and state stop at the leave event. A room
this server is not in, whose invite the user rejected, has that leave as its only
timeline event and no state (Synapse shows such rejections the same way).

An incremental entry with nothing left after filtering (no timeline events, no state, no
account data) is not sent, unless the joined or invited members changed (the
``summary`` the client shows would be stale): a display name change that the filter
hides leaves the response empty. With ``lazy_load_members`` and without
``include_redundant_members``, membership events the device already holds
(:mod:`ranvier.sync.lazy_members`) are left out of incremental ``state``.
"""

from __future__ import annotations

import dataclasses

from ranvier.core.events import JsonDict
from ranvier.rooms.event_store import RoomInfo, StoredEvent
from ranvier.rooms.remote_store import RemoteStore
from ranvier.sync.lazy_members import LazyMemberCache
from ranvier.sync.render import EventRenderer
from ranvier.sync.request import SyncRequest
from ranvier.sync.store import MembershipAt, SyncStore
from ranvier.sync.timeline import Timeline, read_timeline, state_events

MAX_HEROES = 5


class RoomSections:
    """Builds joined and left room entries."""

    def __init__(self, store: SyncStore, lazy_members: LazyMemberCache | None = None) -> None:
        self.store = store
        self.storage = store.storage
        self.lazy_members = lazy_members if lazy_members is not None else LazyMemberCache()

    async def _memberships_changed(self, since_snap: int, end_snap: int) -> bool:
        """Whether any ``m.room.member`` entry changed its ``membership`` between two
        snapshots (a display name change does not count)."""
        member_type = await self.storage.nids.types.lookup("m.room.member")
        if member_type is None:
            return False
        before = (await self.storage.snapshot(since_snap)).state
        after = (await self.storage.snapshot(end_snap)).state
        changed: list[tuple[int | None, int | None]] = [
            (before.get(k), v)
            for k, v in after.items()
            if k[0] == member_type and before.get(k) != v
        ]
        changed += [(v, None) for k, v in before.items() if k[0] == member_type and k not in after]
        if not changed:
            return False
        nids = {n for pair in changed for n in pair if n is not None}
        loaded = await self.storage.events.get_by_nids(nids)

        def membership(nid: int | None) -> str | None:
            found = loaded.get(nid) if nid is not None else None
            return None if found is None else found.event.membership

        return any(membership(old) != membership(new) for old, new in changed)

    def _drop_delivered_members(
        self, req: SyncRequest, room: RoomInfo, since_pos: int, state: list[StoredEvent]
    ) -> list[StoredEvent]:
        """``state`` without the membership events the device already holds."""
        held = self.lazy_members.delivered(req.user_id, req.device_id, room.nid, since_pos)
        if not held:
            return state
        return [
            s
            for s in state
            if not (s.event.type == "m.room.member" and held.get(s.event.state_key or "") == s.nid)
        ]

    def _record_members(
        self, req: SyncRequest, room: RoomInfo, sent: list[StoredEvent], full: bool
    ) -> None:
        pairs = [
            (s.event.state_key, s.nid)
            for s in sent
            if s.event.type == "m.room.member" and s.event.state_key is not None
        ]
        self.lazy_members.record(
            req.user_id, req.device_id, room.nid, pairs, req.upto.events, whole=full
        )

    async def _was_joined_at(self, room: RoomInfo, user_id: str, position: int) -> bool:
        history = await self.store.membership_events(room, user_id, position)
        return bool(history) and history[-1][2] == "join"

    async def _summary(self, room: RoomInfo, user_id: str, snapshot_nid: int) -> JsonDict:
        members, joined, invited = await self.store.member_counts(room.nid)
        summary: JsonDict = {"m.joined_member_count": joined, "m.invited_member_count": invited}
        snap = await self.storage.snapshot(snapshot_nid)
        named = await self.storage.state_events(
            snap, [("m.room.name", ""), ("m.room.canonical_alias", "")]
        )
        name = named.get(("m.room.name", ""))
        alias = named.get(("m.room.canonical_alias", ""))
        if (name is None or not name.content.get("name")) and (
            alias is None or not alias.content.get("alias")
        ):
            others = [m for m in members if m[0] != user_id]
            heroes = [u for u, m, _ in others if m in ("join", "invite")][:MAX_HEROES]
            if not heroes:
                heroes = [u for u, m, _ in others if m in ("leave", "ban")][:MAX_HEROES]
            summary["m.heroes"] = heroes
        return summary

    async def _body(
        self,
        req: SyncRequest,
        room: RoomInfo,
        upper: int,
        full: bool,
        from_start: bool,
        with_summary: bool,
        account_data: list[JsonDict],
        renderer: EventRenderer,
    ) -> tuple[JsonDict, Timeline] | None:
        rf = req.filter.room
        since_pos = req.since_events
        if rf.state.lazy_load_members and since_pos is not None:
            self.lazy_members.confirm(req.user_id, req.device_id, since_pos)
        lower = 0 if since_pos is None or from_start else since_pos
        tl = await read_timeline(
            self.store,
            room,
            req.user_id,
            lower,
            upper,
            rf.timeline,
            rf.timeline_limit,
            req.ignored,
        )
        if from_start and since_pos is not None and not tl.limited and not tl.at_room_start:
            tl = dataclasses.replace(tl, limited=True)
        end_snap = await self.store.snapshot_nid_at(room.nid, upper)
        start_snap = tl.events[0].state_before_nid if tl.events else end_snap
        since_snap = None
        if not full:
            assert since_pos is not None
            since_snap = await self.store.snapshot_nid_at(room.nid, since_pos)
            if not tl.events and not account_data and since_snap == end_snap:
                return None
        summary: JsonDict | None = None
        if with_summary and (
            full
            or since_snap != end_snap
            or any(s.event.type == "m.room.member" for s in tl.events)
        ):
            summary = await self._summary(room, req.user_id, end_snap)
        lazy: set[str] | None = None
        if rf.state.lazy_load_members:
            lazy = {s.event.sender for s in tl.events}
            if full:
                lazy.add(req.user_id)
            if summary is not None:
                lazy.update(summary.get("m.heroes", ()))
        track_members = lazy is not None and not rf.state.include_redundant_members
        if req.use_state_after:
            sent = await state_events(self.store, end_snap, since_snap, rf.state, lazy_users=lazy)
        else:
            sent = await state_events(
                self.store,
                start_snap,
                since_snap,
                rf.state,
                exclude={s.nid for s in tl.events},
                lazy_users=lazy,
            )
        if not full:
            assert since_pos is not None and since_snap is not None
            if track_members:
                sent = self._drop_delivered_members(req, room, since_pos, sent)
            if (
                not tl.events
                and not sent
                and not account_data
                and not await self._memberships_changed(since_snap, end_snap)
            ):
                return None
        if track_members:
            self._record_members(req, room, [*sent, *tl.events], full)
        # prev_batch is given even when the create event is shown (sync.yaml lets it be
        # omitted then, but clients and Sytest count on it being there).
        timeline: JsonDict = {
            "events": await renderer.render(tl.events, bundle=tl.limited or full),
            "limited": tl.limited,
            "prev_batch": str(req.upto.with_events(tl.start)),
        }
        body: JsonDict = {"timeline": timeline, "account_data": {"events": account_data}}
        section = "state_after" if req.use_state_after else "state"
        body[section] = {"events": await renderer.render(sent, bundle=False)}
        if summary is not None:
            body["summary"] = summary
        return body, tl

    async def joined(
        self,
        req: SyncRequest,
        m: MembershipAt,
        account_data: list[JsonDict],
        renderer: EventRenderer,
    ) -> JsonDict | None:
        """The ``rooms.join`` entry of a room, or None when nothing is to be sent."""
        since_pos = req.since_events
        newly = (
            since_pos is not None
            and m.stream_ordering > since_pos
            and not await self._was_joined_at(m.room, req.user_id, since_pos)
        )
        full = since_pos is None or req.full_state or newly
        built = await self._body(
            req, m.room, req.upto.events, full, newly, True, account_data, renderer
        )
        if built is None:
            return None
        body, _ = built
        body["ephemeral"] = {"events": []}
        body["unread_notifications"] = {"highlight_count": 0, "notification_count": 0}
        return body

    async def _left_from_outside(
        self, m: MembershipAt, account_data: list[JsonDict], renderer: EventRenderer
    ) -> JsonDict | None:
        """A room this server is not in, left by rejecting an invite or rescinding a
        knock (:mod:`ranvier.federation.out_of_room`): the leave event is all there is
        to show, as the whole timeline; there is no state."""
        found = (await self.storage.events.get_by_nids([m.event_nid])).get(m.event_nid)
        if found is None:
            return None
        return {
            "timeline": {"events": await renderer.render([found], bundle=False), "limited": False},
            "state": {"events": []},
            "account_data": {"events": account_data},
        }

    def wants_left(self, req: SyncRequest, m: MembershipAt) -> bool:
        """Whether a room the user left (or was banned from) goes into ``rooms.leave``."""
        since_pos = req.since_events
        if since_pos is None:
            return req.filter.room.include_leave
        return m.stream_ordering > since_pos

    async def left(
        self,
        req: SyncRequest,
        m: MembershipAt,
        account_data: list[JsonDict],
        renderer: EventRenderer,
    ) -> JsonDict | None:
        """The ``rooms.leave`` entry of a room, or None."""
        if await RemoteStore(self.storage).is_outlier(m.event_nid):
            return await self._left_from_outside(m, account_data, renderer)
        since_pos = req.since_events
        fresh = since_pos is not None and not await self._was_joined_at(
            m.room, req.user_id, since_pos
        )
        full = since_pos is None or req.full_state or fresh
        built = await self._body(
            req, m.room, m.stream_ordering, full, fresh, False, account_data, renderer
        )
        return None if built is None else built[0]

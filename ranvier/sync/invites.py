"""The ``rooms.invite`` and ``rooms.knock`` sections of ``/sync`` (client-server-api
"Syncing", sync.yaml "Invited Room" / "Knocked room"; "Stripped state").

A user invited to (or knocking on) a room cannot read it yet, so the room is described
by *stripped state* (``type``, ``state_key``, ``sender``, ``content`` only) of the
events the spec recommends -- create, name, avatar, topic, join rules, canonical alias,
encryption -- and the inviter's membership, as they were when the invite (or knock)
happened, followed by the user's own membership event. The room is sent on an initial
sync and on the first sync after the invite or knock; invites from ignored users
(client-server-api "Ignoring Users") are not sent.
"""

from __future__ import annotations

from collections.abc import Collection

from ranvier.core.events import Event, JsonDict
from ranvier.rooms.stripped_state import StrippedStateStore
from ranvier.sync.request import SyncRequest
from ranvier.sync.store import MembershipAt, SyncStore

STRIPPED_STATE_TYPES = (
    "m.room.create",
    "m.room.name",
    "m.room.avatar",
    "m.room.topic",
    "m.room.join_rules",
    "m.room.canonical_alias",
    "m.room.encryption",
)


def stripped(event: Event) -> JsonDict:
    """The ``StrippedStateEvent`` form of a state event."""
    return {
        "content": event.content,
        "sender": event.sender,
        "state_key": event.state_key or "",
        "type": event.type,
    }


class InviteSections:
    """Builds invited and knocked room entries."""

    def __init__(self, store: SyncStore) -> None:
        self.store = store

    def wants(self, req: SyncRequest, m: MembershipAt) -> bool:
        """Whether the invite or knock goes into this sync."""
        since_pos = req.since_events
        return since_pos is None or m.stream_ordering > since_pos

    async def stripped_state(self, m: MembershipAt) -> list[JsonDict] | None:
        """The stripped state around the membership event, the event last."""
        storage = self.store.storage
        found = await storage.events.get_by_nids([m.event_nid])
        own = found.get(m.event_nid)
        if own is None:
            return None
        if own.state_before_nid == 0:
            # A room this server is not in: the state the other server sent with the
            # invite or knock (ranvier.federation.out_of_room).
            saved = await StrippedStateStore(storage.db).load(m.event_nid)
            if saved is not None:
                return [*saved, stripped(own.event)]
        snap = await storage.snapshot(own.state_before_nid)
        keys = [(t, "") for t in STRIPPED_STATE_TYPES]
        if own.event.sender != own.event.state_key:
            keys.append(("m.room.member", own.event.sender))
        state = await storage.state_events(snap, keys)
        events = [stripped(state[k]) for k in keys if k in state]
        events.append(stripped(own.event))
        return events

    async def invited(self, m: MembershipAt, ignored: Collection[str] = ()) -> JsonDict | None:
        """The ``rooms.invite`` entry; None for an invite from an ignored user."""
        events = await self.stripped_state(m)
        if events is None or events[-1]["sender"] in ignored:
            return None
        return {"invite_state": {"events": events}}

    async def knocked(self, m: MembershipAt) -> JsonDict | None:
        """The ``rooms.knock`` entry."""
        events = await self.stripped_state(m)
        return None if events is None else {"knock_state": {"events": events}}

"""What a resident server answers to ``send_join``: the room state before the join,
its auth chain and the servers in the room, whole or with members omitted.

Spec: server-server-api "Joining Rooms"; joins-v2.yaml (``PUT /v2/send_join``, the
``omit_members`` query parameter and the ``members_omitted``, ``state``,
``auth_chain`` and ``servers_in_room`` fields of the answer, Matrix 1.6);
client-server-api "Syncing" (sync.yaml, ``m.heroes`` of the room summary).

Theory of operation
-------------------
Without ``omit_members`` the answer holds the whole state before the join and the
auth chain of that state and of the join (``members_omitted: false``).

With ``omit_members=true`` (the joining server accepts partial state; it fetches the
rest later, as Synapse's "faster joins" do) the ``m.room.member`` events are left out
of ``state`` except:

* the joining user's own membership before the join (an invite, a knock, an earlier
  leave): it is an auth event of the join, so the joiner needs it anyway;
* when the room has no ``m.room.name`` nor ``m.room.canonical_alias`` (or both are
  empty), the memberships of the room's *heroes* as the joining user would see them in
  ``/sync`` (the first five joined or invited members other than the joiner, in the
  order they came, else the left and banned ones), as joins-v2.yaml asks, so the
  joiner's clients can name the room at once.

The auth chain then covers the join and the events kept in ``state`` only, and leaves
out the events already in ``state`` (the spec allows eliding them when
``omit_members`` is set). ``members_omitted`` is true and ``servers_in_room`` (always
sent: required when members are omitted) lists the servers with a joined member other
than the joining user, i.e. the servers in the room before the join.

The heroes are read from the room's membership index (current memberships, cheap),
and their events from the snapshot before the join: no member event is loaded unless
it is sent, so a partial answer costs O(non-member state) whatever the room's size.
"""

from __future__ import annotations

from dataclasses import dataclass

from ranvier.core.events import Event, JsonDict
from ranvier.core.ids import InvalidIdentifier, server_name_of
from ranvier.federation.room_data import RoomData
from ranvier.rooms.event_store import RoomInfo, StoredEvent
from ranvier.rooms.state_store import Snapshot
from ranvier.rooms.storage import RoomStorage

MAX_HEROES = 5
"""How many heroes the room summary names (sync.yaml: "the first 5 members")."""


def _server(user_id: str) -> str | None:
    try:
        return server_name_of(user_id)
    except (InvalidIdentifier, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class JoinState:
    """The state part of a ``send_join`` answer."""

    state: list[Event]
    auth_chain: list[Event]
    members_omitted: bool
    servers_in_room: list[str]

    def to_json(self) -> JsonDict:
        """The ``state``, ``auth_chain``, ``members_omitted`` and ``servers_in_room``
        fields of the answer."""
        return {
            "state": [e.pdu for e in self.state],
            "auth_chain": [e.pdu for e in self.auth_chain],
            "members_omitted": self.members_omitted,
            "servers_in_room": self.servers_in_room,
        }


class JoinStateBuilder:
    """Builds :class:`JoinState` answers (module docstring)."""

    def __init__(self, storage: RoomStorage, data: RoomData) -> None:
        self.storage = storage
        self.events = storage.events
        self.data = data

    async def build(self, room: RoomInfo, join: StoredEvent, omit_members: bool) -> JoinState:
        """The state before ``join`` (a join just accepted into ``room``), with members
        omitted when the joining server asked for it."""
        before = await self.storage.snapshot(join.state_before_nid)
        joiner = join.event.state_key or join.event.sender
        members = await self.events.members(room.nid)
        if omit_members:
            state = await self._partial_state(before, joiner, members)
        else:
            state = list((await self.storage.state_events(before)).values())
        chain = await self.data.auth_chain([*state, join.event])
        if omit_members:
            sent = {e.event_id for e in state}
            chain = [e for e in chain if e.event_id not in sent]
        servers = {
            server
            for user_id, membership, _ in members
            if membership == "join" and user_id != joiner
            for server in (_server(user_id),)
            if server is not None
        }
        return JoinState(state, chain, omit_members, sorted(servers))

    async def _partial_state(
        self, before: Snapshot, joiner: str, members: list[tuple[str, str, int]]
    ) -> list[Event]:
        """The non-member state of ``before``, the joiner's membership and, for a room
        without a name or alias, the heroes' memberships."""
        member_type = await self.storage.nids.types.lookup("m.room.member")
        keep = [nid for (t, _), nid in before.state.items() if t != member_type]
        users = [joiner]
        if await self._unnamed(before):
            users += heroes(members, joiner)
        for user_id in users:
            pair = await self.storage.nids.lookup_key("m.room.member", user_id)
            if pair is not None and pair in before.state:
                keep.append(before.state[pair])
        found = await self.events.get_by_nids(keep)
        return [found[nid].event for nid in keep if nid in found]

    async def _unnamed(self, before: Snapshot) -> bool:
        """Whether the room has neither a name nor a canonical alias (or both empty)."""
        named = await self.storage.state_events(
            before, [("m.room.name", ""), ("m.room.canonical_alias", "")]
        )
        name = named.get(("m.room.name", ""))
        alias = named.get(("m.room.canonical_alias", ""))
        return (name is None or not name.content.get("name")) and (
            alias is None or not alias.content.get("alias")
        )


def heroes(members: list[tuple[str, str, int]], joiner: str) -> list[str]:
    """The heroes ``joiner`` would be shown: the first :data:`MAX_HEROES` joined or
    invited members other than ``joiner`` in the order their membership came (event
    NID order), else the left and banned ones (sync.yaml ``m.heroes``).
    ``members``: ``(user_id, membership, event_nid)`` rows."""
    others = sorted((m for m in members if m[0] != joiner), key=lambda m: m[2])
    chosen = [u for u, m, _ in others if m in ("join", "invite")][:MAX_HEROES]
    return chosen or [u for u, m, _ in others if m in ("leave", "ban")][:MAX_HEROES]

"""Random rooms that fork: event graphs for property, differential and benchmark runs.

Theory of operation: :class:`RoomBuilder` grows a room one event at a time on a *branch* (the
state after the branch's last event). Each new event gets the auth events the auth rules
select from the branch's state and is kept only if :func:`check_auth_rules` allows it
against that state, so every event is valid where it was created, as events that reached a
real server's state are. Branches copy a parent's state at a fork point and then diverge,
each taking turns at random membership, power level, join rule, topic and name changes.
Their final states are the state sets to resolve.

Event ids: rooms v1-v2 get readable ``$n:server`` ids; v3+ ids are the reference hashes
(:func:`ranvier.core.hashes.compute_event_id`, via :class:`Event`), so another server (the
Synapse oracle) computes the same ids from the same PDUs. Timestamps advance slowly and
collide often on purpose, to exercise the ``origin_server_ts``/event id tie-breaks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from ranvier.core.auth import AuthError, auth_types_for_event, check_auth_rules
from ranvier.core.events import Event, JsonDict, StateKey
from ranvier.core.room_versions import RoomVersion

CREATE_KEY: StateKey = ("m.room.create", "")
PL_KEY: StateKey = ("m.room.power_levels", "")


@dataclass
class Branch:
    """One line of history: its state and last event."""

    state: dict[StateKey, str]
    head: str
    depth: int
    ts: int
    events: list[str] = field(default_factory=list)

    def fork(self) -> Branch:
        """A new branch starting where this one is now."""
        return Branch(dict(self.state), self.head, self.depth, self.ts)


class RoomBuilder:
    """Builds valid events of one room on branches. See the module docstring."""

    def __init__(self, room_version: RoomVersion, rng: random.Random, users: list[str]):
        self.rv = room_version
        self.rng = rng
        self.users = users
        self.events: dict[str, Event] = {}
        self.order: list[str] = []  # creation order, for serialisation
        self.room_id = "!room:a"
        self._n = 0
        self.creator = users[0]

    # -- event construction -------------------------------------------------------------

    def _pdu(
        self,
        branch: Branch,
        etype: str,
        sender: str,
        state_key: str | None,
        content: JsonDict,
        auth_ids: list[str],
        ts: int,
    ) -> JsonDict:
        v1_format = self.rv.event_id_in_event
        self._n += 1
        pdu: dict[str, Any] = {
            "type": etype,
            "sender": sender,
            "content": content,
            "depth": branch.depth + 1,
            "origin_server_ts": ts,
            "hashes": {"sha256": "aGFzaA"},
            "signatures": {},
            "origin": sender.split(":", 1)[1],
        }
        prev = [branch.head] if branch.head else []
        if v1_format:
            pdu["event_id"] = f"${self._n}:{sender.split(':', 1)[1]}"
            pdu["prev_events"] = [[p, {"sha256": "aGFzaA"}] for p in prev]
            pdu["auth_events"] = [[a, {"sha256": "aGFzaA"}] for a in auth_ids]
        else:
            pdu["prev_events"] = prev
            pdu["auth_events"] = auth_ids
        if state_key is not None:
            pdu["state_key"] = state_key
        if not (self.rv.room_id_from_create_event and etype == "m.room.create"):
            pdu["room_id"] = self.room_id
        return pdu

    def try_add(
        self,
        branch: Branch,
        etype: str,
        sender: str,
        state_key: str | None,
        content: JsonDict,
        ts: int | None = None,
    ) -> Event | None:
        """Create the event on ``branch`` if the auth rules allow it there; return it."""
        keys = auth_types_for_event(self.rv, etype, state_key, sender, content)
        auth_ids = sorted(branch.state[k] for k in keys if k in branch.state)
        if ts is None:
            ts = branch.ts + self.rng.choice((0, 1, 1, 2, 5))
        pdu = self._pdu(branch, etype, sender, state_key, content, auth_ids, ts)
        event = Event(pdu, self.rv)
        if etype == "m.room.create" and self.rv.room_id_from_create_event:
            self.room_id = event.room_id
        auth_map = {k: self.events[branch.state[k]] for k in keys if k in branch.state}
        if CREATE_KEY in branch.state:
            auth_map[CREATE_KEY] = self.events[branch.state[CREATE_KEY]]
        try:
            check_auth_rules(event, auth_map)
        except AuthError:
            return None
        self.events[event.event_id] = event
        self.order.append(event.event_id)
        branch.head = event.event_id
        branch.depth += 1
        branch.ts = ts
        branch.events.append(event.event_id)
        if event.state_key is not None:
            branch.state[event.state_tuple] = event.event_id
        return event

    # -- room shapes --------------------------------------------------------------------

    def create_room(self, extra_members: list[str] | None = None) -> Branch:
        """Create, creator join, power levels, public join rules, joins of every user."""
        b = Branch({}, "", 0, 1_000)
        content: JsonDict = {"room_version": self.rv.identifier}
        if not self.rv.implicit_room_creator:
            content["creator"] = self.creator
        assert self.try_add(b, "m.room.create", self.creator, "", content)
        assert self.try_add(b, "m.room.member", self.creator, self.creator, {"membership": "join"})
        users: dict[str, int] = {}
        if not self.rv.privileged_creators:
            users[self.creator] = 100
        users[self.users[1]] = 100
        users[self.users[2]] = 50
        assert self.try_add(b, "m.room.power_levels", self.creator, "", self.pl_content(users))
        assert self.try_add(b, "m.room.join_rules", self.creator, "", {"join_rule": "public"})
        for u in [*self.users[1:], *(extra_members or [])]:
            assert self.try_add(b, "m.room.member", u, u, {"membership": "join"})
        return b

    @staticmethod
    def pl_content(users: dict[str, int]) -> JsonDict:
        """A power levels content with the given ``users`` and common defaults."""
        return {
            "users": users,
            "users_default": 0,
            "events_default": 0,
            "state_default": 50,
            "ban": 50,
            "kick": 50,
            "redact": 50,
            "invite": 0,
            "events": {"m.room.name": 0, "m.room.topic": 0},
        }

    def membership(self, branch: Branch, user: str) -> str:
        """``user``'s membership on ``branch`` ("leave" if none)."""
        eid = branch.state.get(("m.room.member", user))
        if eid is None:
            return "leave"
        m = self.events[eid].membership
        return m or "leave"

    def random_step(self, branch: Branch, attempts: int = 12) -> Event | None:
        """Add one random allowed state event to ``branch`` (None if nothing was allowed)."""
        rng = self.rng
        for _ in range(attempts):
            sender = rng.choice(self.users)
            target = rng.choice(self.users)
            kind = rng.random()
            ev: Event | None
            if kind < 0.15:
                ev = self.try_add(branch, "m.room.topic", sender, "", {"topic": f"t{self._n}"})
            elif kind < 0.22:
                ev = self.try_add(branch, "m.room.name", sender, "", {"name": f"n{self._n}"})
            elif kind < 0.40:
                pl_id = branch.state.get(PL_KEY)
                users = dict(self.events[pl_id].content.get("users", {})) if pl_id else {}
                users[target] = rng.choice((0, 0, 50, 100))
                if self.rv.privileged_creators:
                    users.pop(self.creator, None)
                ev = self.try_add(branch, "m.room.power_levels", sender, "", self.pl_content(users))
            elif kind < 0.50:
                rule = rng.choice(("public", "invite"))
                ev = self.try_add(branch, "m.room.join_rules", sender, "", {"join_rule": rule})
            else:
                current = self.membership(branch, target)
                if sender == target:
                    choices = ["join", "leave"]
                else:
                    choices = ["invite", "leave", "ban"]
                    if current == "ban":
                        choices = ["leave"]
                m = rng.choice(choices)
                ev = self.try_add(branch, "m.room.member", sender, target, {"membership": m})
            if ev is not None:
                return ev
        return None

    def case(self, state_sets: list[dict[StateKey, str]]) -> dict[str, Any]:
        """The JSON case for the Synapse oracle (see ``synapse_oracle.py``)."""
        room_id = self.room_id
        return {
            "room_version": self.rv.identifier,
            "room_id": room_id,
            "events": [self.events[e].pdu for e in self.order],
            "state_sets": [[[t, k, e] for (t, k), e in s.items()] for s in state_sets],
        }


def forked_room(
    room_version: RoomVersion,
    seed: int,
    *,
    branches: int | None = None,
    trunk_steps: int = 6,
    branch_steps: tuple[int, int] = (1, 8),
) -> tuple[RoomBuilder, list[dict[StateKey, str]]]:
    """A small random room with a trunk forked into 2-3 branches; returns the builder and
    the branches' states."""
    rng = random.Random(seed)
    users = ["@u0:a", "@u1:b", "@u2:a", "@u3:c", "@u4:b"]
    rb = RoomBuilder(room_version, rng, users)
    trunk = rb.create_room()
    points = [trunk.fork()]
    for _ in range(trunk_steps):
        rb.random_step(trunk)
        points.append(trunk.fork())
    n = branches or rng.choice((2, 2, 3))
    states: list[dict[StateKey, str]] = []
    for _ in range(n):
        b = rng.choice(points[len(points) // 2 :]).fork()
        for _ in range(rng.randint(*branch_steps)):
            rb.random_step(b)
        states.append(b.state)
    return rb, states

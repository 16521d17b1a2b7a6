"""A small builder of room states and candidate events for the auth rule tests.

Events are built as plain PDUs and wrapped in :class:`Event` with explicit
event ids (no hashing or signing: the auth rules read neither, except the
third-party invite ``signed`` block, which tests sign with real Ed25519 keys).
``Room.put`` adds an event to the room state unchecked, so each test sets up
exactly the state a rule needs; ``Room.check`` runs the rules against it.
"""

from __future__ import annotations

from typing import Any

from ranvier.core.auth import check_auth_rules
from ranvier.core.events import Event, JsonDict, StateKey
from ranvier.core.room_versions import RoomVersion

ALICE = "@alice:a.test"  # creator
BOB = "@bob:b.test"
CAROL = "@carol:c.test"
DAVE = "@dave:a.test"
EVE = "@eve:e.test"


class Room:
    """A room's state under construction, in one room version."""

    def __init__(
        self,
        rv: RoomVersion,
        creator: str = ALICE,
        create_content: JsonDict | None = None,
    ) -> None:
        self.rv = rv
        self.counter = 0
        self.state: dict[StateKey, Event] = {}
        content: JsonDict = {"room_version": rv.identifier}
        if not rv.implicit_room_creator:
            content["creator"] = creator
        if create_content is not None:
            content.update(create_content)
        self.create_content = content
        self.creator = creator
        if rv.room_id_from_create_event:
            self.room_id = "!CreateEventHash" + rv.identifier
        else:
            self.room_id = "!room:" + creator.split(":", 1)[1]
        self.create = self.make_create(creator, content)
        self.state[("m.room.create", "")] = self.create
        self.last_event_id = self.create.event_id

    def next_id(self, origin: str = "a.test") -> str:
        self.counter += 1
        if self.rv.event_id_in_event:
            return f"${self.counter}:{origin}"
        return f"$ev{self.counter}"

    def make_create(
        self, sender: str, content: JsonDict, *, prev: list[str] | None = None, **extra: Any
    ) -> Event:
        """A create event for this room (not added to the state)."""
        pdu: JsonDict = {
            "type": "m.room.create",
            "state_key": "",
            "sender": sender,
            "content": content,
            "prev_events": prev or [],
            "auth_events": [],
            "depth": 1,
            "origin_server_ts": 0,
        }
        if not self.rv.room_id_from_create_event:
            pdu["room_id"] = self.room_id
        pdu.update(extra)
        event_id = "$" + self.room_id[1:] if self.rv.room_id_from_create_event else None
        if event_id is None:
            event_id = self.next_id()
        return Event(pdu, self.rv, event_id=event_id)

    def event(
        self,
        type: str,
        sender: str,
        content: JsonDict | None = None,
        state_key: str | None = None,
        *,
        prev: list[str] | None = None,
        event_id: str | None = None,
        **extra: Any,
    ) -> Event:
        """A candidate event (not added to the state)."""
        pdu: JsonDict = {
            "type": type,
            "sender": sender,
            "room_id": self.room_id,
            "content": content if content is not None else {},
            "prev_events": prev if prev is not None else [self.last_event_id],
            "auth_events": [],
            "depth": self.counter + 2,
            "origin_server_ts": 0,
            "signatures": {sender.split(":", 1)[1]: {"ed25519:k": "sig"}},
        }
        if state_key is not None:
            pdu["state_key"] = state_key
        pdu.update(extra)
        return Event(pdu, self.rv, event_id=event_id or self.next_id(sender.split(":", 1)[1]))

    def member(self, sender: str, membership: str, target: str | None = None, **kw: Any) -> Event:
        content = {"membership": membership, **kw.pop("content", {})}
        return self.event("m.room.member", sender, content, target or sender, **kw)

    def put(self, event: Event) -> Event:
        """Add ``event`` to the state without checking it."""
        assert event.state_key is not None
        self.state[(event.type, event.state_key)] = event
        self.last_event_id = event.event_id
        return event

    def set_member(self, user: str, membership: str, sender: str | None = None) -> Event:
        return self.put(self.member(sender or user, membership, user))

    def set_power_levels(self, content: JsonDict, sender: str | None = None) -> Event:
        return self.put(self.event("m.room.power_levels", sender or self.creator, content, ""))

    def set_join_rule(self, rule: str, **extra: Any) -> Event:
        content = {"join_rule": rule, **extra}
        return self.put(self.event("m.room.join_rules", self.creator, content, ""))

    def check(self, event: Event) -> None:
        check_auth_rules(event, self.state)


def standard_room(
    rv: RoomVersion,
    join_rule: str = "public",
    users: dict[str, Any] | None = None,
    **pl: Any,
) -> Room:
    """Creator joined, power levels (creator 100 except in v12, where creators may
    not be listed), the given join rule, and no other members."""
    room = Room(rv)
    room.set_member(ALICE, "join")
    levels: dict[str, Any] = {} if rv.privileged_creators else {ALICE: 100}
    levels.update(users or {})
    room.set_power_levels({"users": levels, **pl})
    room.set_join_rule(join_rule)
    return room

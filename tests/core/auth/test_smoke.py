"""First end-to-end checks of the rule walk: a room is built and used in every version."""

from __future__ import annotations

import pytest

from ranvier.core.auth import AuthError
from ranvier.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from tests.core.auth.roombuilder import ALICE, BOB, Room, standard_room

ALL = list(KNOWN_ROOM_VERSIONS.values())


@pytest.mark.parametrize("rv", ALL, ids=lambda rv: "v" + rv.identifier)
def test_room_lifecycle(rv: RoomVersion) -> None:
    room = Room(rv)
    room.check(room.create)
    join = room.member(ALICE, "join", prev=[room.create.event_id])
    room.check(join)
    room.put(join)
    room.check(room.event("m.room.message", ALICE, {"body": "hi"}))
    with pytest.raises(AuthError) as e:
        room.check(room.event("m.room.message", BOB, {"body": "hi"}))
    assert e.value.rule == "sender_joined"


@pytest.mark.parametrize("rv", ALL, ids=lambda rv: "v" + rv.identifier)
def test_public_join_then_message(rv: RoomVersion) -> None:
    room = standard_room(rv)
    room.check(room.member(BOB, "join"))
    room.set_member(BOB, "join")
    room.check(room.event("m.room.message", BOB, {"body": "hi"}))

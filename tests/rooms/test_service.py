"""The room service on both databases: createRoom, membership, state reads, history
visibility and event reads."""

from __future__ import annotations

import pytest

from ranvier.http.types import MatrixError
from tests.rooms.conftest import ALICE, BOB, CAROL, Rooms


async def state(rooms: Rooms, room_id: str) -> dict:  # type: ignore[type-arg]
    events = await rooms.service.get_state(room_id, ALICE)
    return {(e["type"], e["state_key"]): e for e in events}


async def test_create_room_events_in_spec_order(rooms: Rooms) -> None:
    room_id = await rooms.service.create_room(
        ALICE,
        room_version="11",
        preset="private_chat",
        name="Name",
        topic="Topic",
        invite=[BOB],
        room_alias_name="hall",
        initial_state=[{"type": "m.room.guest_access", "content": {"guest_access": "forbidden"}}],
        is_direct=True,
    )
    room = await rooms.service.room(room_id)
    rows = await rooms.db.fetchall(
        "SELECT event_id FROM events WHERE room_nid = $1 ORDER BY stream_ordering", room.nid
    )
    types = []
    for (eid,) in rows:
        stored = await rooms.storage.events.get_by_id(eid)
        assert stored is not None
        types.append((stored.event.type, stored.event.state_key))
    assert types == [
        ("m.room.create", ""),
        ("m.room.member", ALICE),
        ("m.room.power_levels", ""),
        ("m.room.canonical_alias", ""),
        ("m.room.join_rules", ""),
        ("m.room.history_visibility", ""),
        ("m.room.guest_access", ""),  # from initial_state, replacing the preset's
        ("m.room.name", ""),
        ("m.room.topic", ""),
        ("m.room.member", BOB),
    ]
    s = await state(rooms, room_id)
    assert s[("m.room.guest_access", "")]["content"] == {"guest_access": "forbidden"}
    assert s[("m.room.join_rules", "")]["content"] == {"join_rule": "invite"}
    assert s[("m.room.power_levels", "")]["content"]["users"] == {ALICE: 100}
    assert s[("m.room.create", "")]["content"] == {"room_version": "11"}
    assert s[("m.room.member", BOB)]["content"] == {"membership": "invite", "is_direct": True}
    assert s[("m.room.canonical_alias", "")]["content"] == {"alias": "#hall:example.org"}
    assert await rooms.service.aliases.resolve("#hall:example.org") == room_id


async def test_v12_power_levels_and_trusted_private_chat(rooms: Rooms) -> None:
    room_id = await rooms.service.create_room(ALICE, preset="trusted_private_chat", invite=[BOB])
    assert not room_id.endswith(":example.org")  # v12 room ids carry no server
    s = await state(rooms, room_id)
    power = s[("m.room.power_levels", "")]["content"]
    assert power["users"] == {} and power["events"]["m.room.tombstone"] == 150
    assert s[("m.room.create", "")]["content"]["additional_creators"] == [BOB]
    assert s[("m.room.create", "")]["content"]["room_version"] == "12"


async def test_trusted_private_chat_before_v12_gives_invitees_power(rooms: Rooms) -> None:
    room_id = await rooms.service.create_room(
        ALICE, room_version="10", preset="trusted_private_chat", invite=[BOB]
    )
    power = (await state(rooms, room_id))[("m.room.power_levels", "")]["content"]
    assert power["users"] == {ALICE: 100, BOB: 100}


async def test_create_room_errors_create_nothing(rooms: Rooms) -> None:
    with pytest.raises(MatrixError) as exc:
        await rooms.service.create_room(ALICE, room_version="99")
    assert exc.value.errcode == "M_UNSUPPORTED_ROOM_VERSION"
    with pytest.raises(MatrixError) as exc:
        await rooms.service.create_room(
            ALICE,
            room_version="11",
            name="x",
            power_level_content_override={"events": {"m.room.name": 101}},
        )
    assert exc.value.errcode == "M_INVALID_ROOM_STATE"
    with pytest.raises(MatrixError) as exc:
        await rooms.service.create_room(
            ALICE, initial_state=[{"type": "m.room.member", "state_key": BOB, "content": {}}]
        )
    assert exc.value.errcode == "M_INVALID_ROOM_STATE"
    row = await rooms.db.fetchone("SELECT COUNT(*) FROM rooms")
    assert row is not None and row[0] == 0
    await rooms.service.create_room(ALICE, room_alias_name="taken")
    with pytest.raises(MatrixError) as exc:
        await rooms.service.create_room(BOB, room_alias_name="taken")
    assert exc.value.errcode == "M_ROOM_IN_USE"


async def test_membership_lifecycle(rooms: Rooms) -> None:
    svc, mem = rooms.service, rooms.membership
    room_id = await svc.create_room(ALICE, room_version="11")
    with pytest.raises(MatrixError) as exc:
        await mem.join(room_id, BOB)  # invite-only
    assert exc.value.errcode == "M_FORBIDDEN"
    invite = await mem.invite(room_id, ALICE, BOB, reason="come")
    assert await mem.invite(room_id, ALICE, BOB) == invite  # idempotent
    assert await mem.join(room_id, BOB) == room_id
    first_join = (await state(rooms, room_id))[("m.room.member", BOB)]["event_id"]
    await mem.join(room_id, BOB)
    assert (await state(rooms, room_id))[("m.room.member", BOB)]["event_id"] == first_join
    assert await svc.joined_rooms(BOB) == [room_id]
    assert set(await svc.joined_members(room_id, BOB)) == {ALICE, BOB}
    with pytest.raises(MatrixError):
        await mem.invite(room_id, ALICE, BOB)  # already joined
    with pytest.raises(MatrixError) as exc:
        await mem.kick(room_id, BOB, ALICE)  # power 0 cannot kick 100
    assert exc.value.errcode == "M_FORBIDDEN"
    await mem.kick(room_id, ALICE, BOB, reason="bye")
    s = await state(rooms, room_id)
    assert s[("m.room.member", BOB)]["content"] == {"membership": "leave", "reason": "bye"}
    await mem.ban(room_id, ALICE, BOB)
    with pytest.raises(MatrixError):
        await mem.invite(room_id, ALICE, BOB)
    with pytest.raises(MatrixError):
        await mem.unban(room_id, ALICE, CAROL)  # not banned
    await mem.unban(room_id, ALICE, BOB)
    assert (await state(rooms, room_id))[("m.room.member", BOB)]["content"]["membership"] == (
        "leave"
    )
    assert await mem.leave(room_id, CAROL) is None  # nothing to leave
    assert await svc.joined_rooms(BOB) == []


async def test_join_by_alias_and_unknown_room(rooms: Rooms) -> None:
    room_id = await rooms.service.create_room(ALICE, preset="public_chat", room_alias_name="pub")
    assert await rooms.membership.join("#pub:example.org", BOB) == room_id
    with pytest.raises(MatrixError) as exc:
        await rooms.membership.join("#nope:example.org", BOB)
    assert exc.value.status == 404
    with pytest.raises(MatrixError) as exc:
        await rooms.membership.join("!nope:example.org", BOB)
    assert exc.value.status == 404


async def test_state_reads_and_leavers_see_state_at_leave(rooms: Rooms) -> None:
    svc = rooms.service
    room_id = await svc.create_room(ALICE, preset="public_chat", name="before")
    await rooms.membership.join(room_id, BOB)
    await rooms.membership.leave(room_id, BOB)
    await svc.set_state(room_id, ALICE, "m.room.name", "", {"name": "after"})
    assert await svc.get_state_content(room_id, BOB, "m.room.name", "") == {"name": "before"}
    assert await svc.get_state_content(room_id, ALICE, "m.room.name", "") == {"name": "after"}
    with pytest.raises(MatrixError) as exc:
        await svc.get_state_content(room_id, CAROL, "m.room.name", "")
    assert exc.value.status == 403
    with pytest.raises(MatrixError) as exc:
        await svc.get_state_content(room_id, ALICE, "m.room.avatar", "")
    assert exc.value.status == 404
    same = await svc.set_state(room_id, ALICE, "m.room.name", "", {"name": "after"})
    s = await state(rooms, room_id)
    assert s[("m.room.name", "")]["event_id"] == same  # unchanged content: no new event
    members = await rooms.membership.members(room_id, ALICE, not_membership="leave")
    assert [m["state_key"] for m in members] == [ALICE]


@pytest.mark.parametrize(
    ("visibility", "before_join", "after_leave"),
    [
        ("shared", True, False),
        ("invited", False, False),
        ("joined", False, False),
        ("world_readable", True, True),
    ],
)
async def test_history_visibility(
    rooms: Rooms, visibility: str, before_join: bool, after_leave: bool
) -> None:
    svc, mem = rooms.service, rooms.membership
    room_id = await svc.create_room(ALICE, preset="public_chat", room_version="11")
    await svc.set_state(
        room_id, ALICE, "m.room.history_visibility", "", {"history_visibility": visibility}
    )
    early = await svc.send_event(room_id, ALICE, "m.room.message", {"body": "early"})
    await mem.invite(room_id, ALICE, BOB)
    invited_msg = await svc.send_event(room_id, ALICE, "m.room.message", {"body": "inv"})
    await mem.join(room_id, BOB)
    during = await svc.send_event(room_id, ALICE, "m.room.message", {"body": "during"})
    await mem.leave(room_id, BOB)
    late = await svc.send_event(room_id, ALICE, "m.room.message", {"body": "late"})

    async def sees(event_id: str) -> bool:
        try:
            await svc.get_event(room_id, event_id, BOB)
        except MatrixError as exc:
            assert exc.status == 404
            return False
        return True

    assert await sees(early) is before_join
    assert await sees(invited_msg) is (visibility != "joined")
    assert await sees(during) is True
    assert await sees(late) is after_leave
    # Carol never joined: only world_readable lets her read.
    with pytest.raises(MatrixError) if visibility != "world_readable" else _nothing():
        await svc.get_event(room_id, during, CAROL)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


async def test_own_membership_events_are_visible(rooms: Rooms) -> None:
    svc, mem = rooms.service, rooms.membership
    room_id = await svc.create_room(ALICE, preset="public_chat", room_version="11")
    await svc.set_state(
        room_id, ALICE, "m.room.history_visibility", "", {"history_visibility": "joined"}
    )
    await mem.join(room_id, BOB)
    join_id = (await state(rooms, room_id))[("m.room.member", BOB)]["event_id"]
    event = await svc.get_event(room_id, join_id, BOB)
    assert event["content"]["membership"] == "join" and event["state_key"] == BOB


async def test_get_event_client_format_and_transaction_id(rooms: Rooms) -> None:
    svc = rooms.service
    room_id = await svc.create_room(ALICE)
    eid = await svc.send_event(
        room_id, ALICE, "m.room.message", {"body": "x"}, device_id="DEV", txn_id="abc"
    )
    own = await svc.get_event(room_id, eid, ALICE, "DEV")
    assert own["unsigned"]["transaction_id"] == "abc" and own["unsigned"]["age"] >= 0
    assert set(own) == {
        "content",
        "event_id",
        "origin_server_ts",
        "room_id",
        "sender",
        "type",
        "unsigned",
    }
    other_device = await svc.get_event(room_id, eid, ALICE, "OTHER")
    assert "transaction_id" not in other_device["unsigned"]
    other_room = await svc.create_room(ALICE)
    with pytest.raises(MatrixError) as exc:
        await svc.get_event(other_room, eid, ALICE)
    assert exc.value.status == 404

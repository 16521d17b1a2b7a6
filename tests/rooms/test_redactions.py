"""Redactions on both databases: who may redact, the redacted form per room version,
state after redacting a state event, idempotency, and the stored marks."""

from __future__ import annotations

from typing import Any

import pytest

from ranvier.core.builder import build_event
from ranvier.core.events import Event
from ranvier.core.room_versions import get_room_version
from ranvier.http.types import MatrixError
from ranvier.rooms.event_store import NewEvent
from ranvier.rooms.redactions import split_redacts
from tests.rooms.conftest import ALICE, BOB, CAROL, SERVER, Rooms


async def public_room(rooms: Rooms, version: str) -> str:
    room_id = await rooms.service.create_room(ALICE, room_version=version, preset="public_chat")
    await rooms.membership.join(room_id, BOB)
    await rooms.membership.join(room_id, CAROL)
    return room_id


async def send(rooms: Rooms, room_id: str, sender: str, content: dict[str, Any]) -> str:
    return await rooms.service.send_event(room_id, sender, "m.room.message", content)


async def redact(
    rooms: Rooms, room_id: str, sender: str, target: str, txn: str | None = None, **extra: Any
) -> str:
    return await rooms.service.send_event(
        room_id,
        sender,
        "m.room.redaction",
        {"redacts": target, **extra},
        device_id=None if txn is None else "DEV",
        txn_id=txn,
    )


def test_split_redacts_per_room_version() -> None:
    v10, v11 = get_room_version("10"), get_room_version("11")
    content = {"redacts": "$x", "reason": "r"}
    assert split_redacts(v10, "m.room.redaction", content) == ({"reason": "r"}, "$x")
    assert split_redacts(v11, "m.room.redaction", content) == (content, "$x")
    assert split_redacts(v11, "m.room.message", content) == (content, None)
    assert split_redacts(v10, "m.room.redaction", {"redacts": 5}) == ({"redacts": 5}, None)


@pytest.mark.parametrize("version", ["10", "11"])
async def test_sender_redacts_own_message(rooms: Rooms, version: str) -> None:
    room_id = await public_room(rooms, version)
    target = await send(rooms, room_id, BOB, {"msgtype": "m.text", "body": "oops"})
    redaction_id = await redact(rooms, room_id, BOB, target, reason="typo")

    stored_redaction = await rooms.storage.events.get_by_id(redaction_id)
    assert stored_redaction is not None
    pdu = stored_redaction.event.pdu
    if version == "11":  # rooms/v11: redacts moved into content
        assert pdu["content"] == {"redacts": target, "reason": "typo"} and "redacts" not in pdu
    else:
        assert pdu["redacts"] == target and pdu["content"] == {"reason": "typo"}

    for storage in (rooms.storage, rooms.fresh_storage()):  # cached and from the database
        stored = await storage.events.get_by_id(target)
        assert stored is not None and stored.redacted_by == stored_redaction.nid
        assert stored.event.content == {}

    served = await rooms.service.get_event(room_id, target, CAROL)
    assert served["content"] == {}
    because = served["unsigned"]["redacted_because"]
    assert because["event_id"] == redaction_id and because["sender"] == BOB
    assert served["unsigned"]["redacted_by"] == redaction_id
    # both places for redacts, whatever the room version (rooms/v11 compatibility notes)
    assert because["redacts"] == target and because["content"]["redacts"] == target
    assert because["content"]["reason"] == "typo"
    # the redaction itself is served unredacted
    served_redaction = await rooms.service.get_event(room_id, redaction_id, CAROL)
    assert served_redaction["redacts"] == target
    assert "redacted_because" not in served_redaction["unsigned"]
    row = await rooms.db.fetchone(
        "SELECT redacted_by FROM events WHERE event_id = $1", redaction_id
    )
    assert row is not None and row[0] is None


async def test_moderator_may_redact_others_plain_user_may_not(rooms: Rooms) -> None:
    room_id = await public_room(rooms, "11")
    bobs = await send(rooms, room_id, BOB, {"msgtype": "m.text", "body": "spam"})
    before = await rooms.storage.events.stream_position()
    with pytest.raises(MatrixError) as exc:
        await redact(rooms, room_id, CAROL, bobs)
    assert (exc.value.status, exc.value.errcode) == (403, "M_FORBIDDEN")
    assert await rooms.storage.events.stream_position() == before  # nothing was sent
    stored = await rooms.storage.events.get_by_id(bobs)
    assert stored is not None and stored.redacted_by is None
    # Alice has power 100 >= redact 50
    await redact(rooms, room_id, ALICE, bobs)
    stored = await rooms.storage.events.get_by_id(bobs)
    assert stored is not None and stored.redacted_by is not None
    # an event of another room is refused
    other = await rooms.service.create_room(CAROL, room_version="11")
    with pytest.raises(MatrixError) as exc:
        await redact(rooms, other, CAROL, bobs)
    assert exc.value.errcode == "M_INVALID_PARAM"


async def test_redaction_txn_is_idempotent(rooms: Rooms) -> None:
    room_id = await public_room(rooms, "11")
    target = await send(rooms, room_id, BOB, {"body": "a"})
    first = await redact(rooms, room_id, BOB, target, txn="t1")
    again = await redact(rooms, room_id, BOB, target, txn="t1")
    assert first == again
    rows = await rooms.db.fetchall("SELECT redaction_nid FROM event_redactions")
    assert len(rows) == 1
    # served to the sending device with its transaction id
    served = await rooms.service.get_event(room_id, first, BOB, "DEV")
    assert served["unsigned"]["transaction_id"] == "t1"


@pytest.mark.parametrize(("version", "invite_kept"), [("10", False), ("11", True)])
async def test_redacted_state_event_changes_room_state(
    rooms: Rooms, version: str, invite_kept: bool
) -> None:
    """A redacted state event stays in the state with its redacted content: a redacted
    topic removes the topic; power levels keep ``invite`` only from v11 on."""
    room_id = await public_room(rooms, version)
    topic = await rooms.service.set_state(room_id, ALICE, "m.room.topic", "", {"topic": "T"})
    pl = await rooms.service.get_state_content(room_id, ALICE, "m.room.power_levels", "")
    pl = {**pl, "invite": 50, "notifications": {"room": 20}}
    pl_id = await rooms.service.set_state(room_id, ALICE, "m.room.power_levels", "", pl)
    await redact(rooms, room_id, ALICE, topic)
    await redact(rooms, room_id, ALICE, pl_id)
    room = await rooms.service.room(room_id)
    for storage in (rooms.storage, rooms.fresh_storage()):
        current = await storage.current_state(room.nid)
        topic_ev = await storage.state_event(current, "m.room.topic", "")
        assert topic_ev is not None and topic_ev.event_id == topic and topic_ev.content == {}
        pl_ev = await storage.state_event(current, "m.room.power_levels", "")
        assert pl_ev is not None and pl_ev.event_id == pl_id
        assert "notifications" not in pl_ev.content
        assert ("invite" in pl_ev.content) is invite_kept
        assert pl_ev.content["users"][ALICE] == 100
    state = {(e["type"], e["state_key"]): e for e in await rooms.service.get_state(room_id, BOB)}
    assert state[("m.room.topic", "")]["content"] == {}
    # the state still works for auth: Alice keeps her power and can change the name
    await rooms.service.set_state(room_id, ALICE, "m.room.name", "", {"name": "N"})


async def test_redacted_member_event_keeps_membership(rooms: Rooms) -> None:
    room_id = await public_room(rooms, "11")
    member = await rooms.service.get_state(room_id, ALICE)
    carol_join = next(e for e in member if e.get("state_key") == CAROL)["event_id"]
    await redact(rooms, room_id, CAROL, carol_join)
    served = await rooms.service.get_event(room_id, carol_join, ALICE)
    assert served["content"] == {"membership": "join"}
    room = await rooms.service.room(room_id)
    assert await rooms.storage.events.membership_of(room.nid, CAROL) == "join"
    await send(rooms, room_id, CAROL, {"body": "still here"})


async def test_target_arriving_after_its_redaction(rooms: Rooms) -> None:
    """rooms fragment v3-handling-redactions: a redaction of an event the server does not
    have yet is applied when the event arrives."""
    room_id = await public_room(rooms, "11")
    room = await rooms.service.room(room_id)
    current = await rooms.storage.current_state(room.nid)
    rv = room.room_version
    keys = [("m.room.create", ""), ("m.room.power_levels", ""), ("m.room.member", BOB)]
    state = await rooms.storage.state_events(current, keys)
    ext = await rooms.storage.events.forward_extremities(room.nid)
    prev = [s.event for s in (await rooms.storage.events.get_by_nids(ext)).values()]
    late: Event = build_event(
        room_version=rv,
        room_id=room_id,
        sender=BOB,
        event_type="m.room.message",
        content={"body": "late"},
        prev_events=prev,
        auth_events=list(state.values()),
        origin=SERVER,
        signing_key=rooms.pipeline.signing_key,
    )
    redaction_id = await redact(rooms, room_id, BOB, late.event_id)
    current = await rooms.storage.current_state(room.nid)
    type_nid = await rooms.storage.nids.types.assign(late.type)
    await rooms.storage.events.persist(NewEvent(late, room, type_nid, None, current, ()))
    for storage in (rooms.storage, rooms.fresh_storage()):
        stored = await storage.events.get_by_id(late.event_id)
        redaction = await storage.events.get_by_id(redaction_id)
        assert stored is not None and redaction is not None
        assert stored.redacted_by == redaction.nid and stored.event.content == {}

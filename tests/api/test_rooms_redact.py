"""``PUT /rooms/{roomId}/redact/{eventId}/{txnId}`` over HTTP on SQLite and PostgreSQL: by
the sender, by a moderator, refused to a plain user, the redacted form per room version
on /event and /messages, idempotent transaction ids, and ``/send/m.room.redaction``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.api.test_directory_fixtures import V3, Hs, hs  # noqa: F401


async def setup(hs: Hs, version: str) -> tuple[str, dict[str, str], dict[str, str]]:  # noqa: F811
    """A public room of ``version`` with alice (creator), bob and carol joined."""
    users, tokens = {}, {}
    for name in ("alice", "bob", "carol"):
        users[name], tokens[name] = await hs.user(name)
    room = await hs.create_room(tokens["alice"], preset="public_chat", room_version=version)
    for name in ("bob", "carol"):
        await hs.ok("POST", f"{V3}/rooms/{room}/join", {}, token=tokens[name])
    return room, users, tokens


async def send(hs: Hs, token: str, room: str, body: str, txn: str) -> str:  # noqa: F811
    out = await hs.ok(
        "PUT", f"{V3}/rooms/{room}/send/m.room.message/{txn}", {"body": body}, token=token
    )
    return str(out["event_id"])


def redact_url(room: str, event_id: str, txn: str) -> str:
    return f"{V3}/rooms/{room}/redact/{quote(event_id)}/{txn}"


async def get_event(hs: Hs, token: str, room: str, event_id: str) -> Any:  # noqa: F811
    return await hs.ok("GET", f"{V3}/rooms/{room}/event/{quote(event_id)}", token=token)


async def test_sender_moderator_and_plain_user(hs: Hs) -> None:  # noqa: F811
    room, users, t = await setup(hs, "11")
    bobs = await send(hs, t["bob"], room, "hello", "b1")
    carols = await send(hs, t["carol"], room, "spam", "c1")
    # a plain user may not redact another user's event
    assert await hs.err("PUT", redact_url(room, bobs, "x1"), {}, token=t["carol"]) == (
        403,
        "M_FORBIDDEN",
    )
    assert (await get_event(hs, t["alice"], room, bobs))["content"] == {"body": "hello"}
    # the sender may
    out = await hs.ok("PUT", redact_url(room, bobs, "r1"), {"reason": "typo"}, token=t["bob"])
    served = await get_event(hs, t["carol"], room, bobs)
    assert served["content"] == {}
    because = served["unsigned"]["redacted_because"]
    assert because["event_id"] == out["event_id"] and because["sender"] == users["bob"]
    assert because["content"] == {"redacts": bobs, "reason": "typo"}
    assert because["redacts"] == bobs
    # a moderator (the creator, power 100 >= redact 50) may redact others' events
    mod = await hs.ok("PUT", redact_url(room, carols, "m1"), {}, token=t["alice"])
    served = await get_event(hs, t["bob"], room, carols)
    assert served["content"] == {}
    assert served["unsigned"]["redacted_because"]["event_id"] == mod["event_id"]
    # a non-member may not redact at all; bad ids are refused
    _, dave = await hs.user("dave")
    assert (await hs.err("PUT", redact_url(room, bobs, "d"), {}, token=dave))[0] == 403
    assert await hs.err("PUT", redact_url(room, "nope", "d"), {}, token=t["bob"]) == (
        400,
        "M_INVALID_PARAM",
    )
    assert await hs.err("PUT", redact_url(room, bobs, "d"), {"reason": 5}, token=t["bob"]) == (
        400,
        "M_BAD_JSON",
    )


async def test_redacted_form_per_room_version(hs: Hs) -> None:  # noqa: F811
    """Redacting the create event: v10 keeps only ``creator`` in its content, v11 keeps
    the whole content (rooms/v11 redaction changes)."""
    for version, kept in (("10", {"creator"}), ("11", {"room_version"})):
        _, a = await hs.user(f"alice{version}")
        room = await hs.create_room(a, room_version=version)
        state = await hs.ok("GET", f"{V3}/rooms/{room}/state", token=a)
        create = next(e for e in state if e["type"] == "m.room.create")
        assert set(create["content"]) == {"creator", "room_version"} - (
            {"creator"} if version == "11" else set()
        )
        redaction = await hs.ok("PUT", redact_url(room, create["event_id"], "t"), {}, token=a)
        served = await get_event(hs, a, room, create["event_id"])
        assert set(served["content"]) == kept
        assert served["unsigned"]["redacted_because"]["event_id"] == redaction["event_id"]
        redaction_ev = await get_event(hs, a, room, redaction["event_id"])
        # redacts in both places whatever the version (rooms/v11 compatibility notes)
        assert redaction_ev["redacts"] == create["event_id"]
        assert redaction_ev["content"]["redacts"] == create["event_id"]
        stored = await hs.server.room_storage.events.get_by_id(redaction["event_id"])
        assert stored is not None
        assert ("redacts" in stored.event.pdu) is (version == "10")
        assert ("redacts" in stored.event.content) is (version == "11")


async def test_idempotent_txn_and_messages(hs: Hs) -> None:  # noqa: F811
    room, _, t = await setup(hs, "10")
    target = await send(hs, t["bob"], room, "secret", "s1")
    first = await hs.ok("PUT", redact_url(room, target, "same"), {}, token=t["bob"])
    again = await hs.ok("PUT", redact_url(room, target, "same"), {"reason": "x"}, token=t["bob"])
    assert first == again
    other = await hs.ok("PUT", redact_url(room, target, "other"), {}, token=t["bob"])
    assert other["event_id"] != first["event_id"]
    served = await get_event(hs, t["bob"], room, first["event_id"])
    assert served["unsigned"]["transaction_id"] == "same"
    assert "reason" not in served["content"]
    # the first redaction wins
    target_ev = await get_event(hs, t["alice"], room, target)
    assert target_ev["unsigned"]["redacted_because"]["event_id"] == first["event_id"]
    page = await hs.ok("GET", f"{V3}/rooms/{room}/messages?dir=b&limit=10", token=t["alice"])
    by_id = {e["event_id"]: e for e in page["chunk"]}
    assert by_id[target]["content"] == {}
    assert by_id[target]["unsigned"]["redacted_because"]["event_id"] == first["event_id"]


async def test_send_m_room_redaction(hs: Hs) -> None:  # noqa: F811
    """v1.18: clients may send redactions with /send in every room version."""
    room, _, t = await setup(hs, "10")
    target = await send(hs, t["bob"], room, "x", "x1")
    out = await hs.ok(
        "PUT",
        f"{V3}/rooms/{room}/send/m.room.redaction/s1",
        {"redacts": target, "reason": "r"},
        token=t["bob"],
    )
    stored = await hs.server.room_storage.events.get_by_id(out["event_id"])
    assert stored is not None
    assert stored.event.pdu["redacts"] == target and stored.event.content == {"reason": "r"}
    assert (await get_event(hs, t["carol"], room, target))["content"] == {}
    carols = await send(hs, t["carol"], room, "y", "y1")
    status, _ = await hs.request(
        "PUT",
        f"{V3}/rooms/{room}/send/m.room.redaction/s2",
        {"redacts": carols},
        token=t["bob"],
    )
    assert status == 403


async def test_server_admin_may_redact_local_users(hs: Hs) -> None:  # noqa: F811
    """redaction.yaml: "Server administrators may redact events sent by users on their
    server" (the admin still needs to be in the room to send the redaction)."""
    room, users, t = await setup(hs, "11")
    bobs = await send(hs, t["bob"], room, "bad", "b1")
    assert (await hs.err("PUT", redact_url(room, bobs, "c1"), {}, token=t["carol"]))[0] == 403
    await hs.server.accounts.accounts.set_admin(users["carol"], True)
    out = await hs.ok("PUT", redact_url(room, bobs, "c2"), {}, token=t["carol"])
    served = await get_event(hs, t["alice"], room, bobs)
    assert served["unsigned"]["redacted_because"]["event_id"] == out["event_id"]


async def test_post_without_txn_id_redacts(hs: Hs) -> None:  # noqa: F811
    """Compatibility route (Synapse, Sytest): POST /redact/{eventId} with no txn id."""
    room, _users, t = await setup(hs, "10")
    bobs = await send(hs, t["bob"], room, "oops", "p1")
    out = await hs.ok("POST", f"{V3}/rooms/{room}/redact/{quote(bobs)}", {}, token=t["bob"])
    assert str(out["event_id"]).startswith("$")
    assert (await get_event(hs, t["alice"], room, bobs))["content"] == {}

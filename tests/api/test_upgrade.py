"""Room upgrades over HTTP on SQLite and PostgreSQL (client-server-api "Room Upgrades")."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.api.conftest import SERVER_NAME
from tests.api.test_directory_fixtures import V3, Hs, hs  # noqa: F401


async def full_state(h: Hs, token: str, room: str) -> dict[tuple[str, str], Any]:
    events = await h.ok("GET", f"{V3}/rooms/{room}/state", token=token)
    return {(e["type"], e["state_key"]): e for e in events}


async def upgrade(h: Hs, token: str, room: str, version: str, **extra: Any) -> str:
    body = await h.ok(
        "POST", f"{V3}/rooms/{room}/upgrade", {"new_version": version, **extra}, token=token
    )
    return str(body["replacement_room"])


async def test_upgrade_copies_and_links(hs: Hs) -> None:  # noqa: F811
    alice, a = await hs.user("alice")
    bob, b = await hs.user("bob")
    carol, _ = await hs.user("carol")
    dave, d = await hs.user("dave")
    alias = f"#town:{SERVER_NAME}"
    old = await hs.create_room(
        a,
        room_version="10",
        preset="public_chat",
        visibility="public",
        room_alias_name="town",
        name="Town",
        topic="Square",
        creation_content={"type": "org.example.town", "m.federate": False},
        power_level_content_override={"users": {alice: 500, bob: 60}},
        initial_state=[
            {"type": "m.room.avatar", "content": {"url": "mxc://test.local/a"}},
            {"type": "m.room.encryption", "content": {"algorithm": "m.megolm.v1.aes-sha2"}},
            {"type": "org.example.custom", "content": {"kept": False}},
        ],
    )
    await hs.ok("POST", f"{V3}/rooms/{old}/join", {}, token=b)
    await hs.ok("POST", f"{V3}/rooms/{old}/ban", {"user_id": carol}, token=a)
    await hs.ok("POST", f"{V3}/rooms/{old}/invite", {"user_id": dave}, token=a)
    before = await full_state(hs, a, old)

    # Bob (60) may not send the tombstone (100 in v10 rooms).
    assert await hs.err("POST", f"{V3}/rooms/{old}/upgrade", {"new_version": "11"}, token=b) == (
        403,
        "M_FORBIDDEN",
    )
    new = await upgrade(hs, a, old, "11")
    assert new != old

    old_state = await full_state(hs, a, old)
    tombstone = old_state[("m.room.tombstone", "")]
    assert tombstone["content"]["replacement_room"] == new
    assert tombstone["sender"] == alice
    create = await hs.state(a, new, "m.room.create")
    assert create["room_version"] == "11"
    assert create["predecessor"] == {"room_id": old, "event_id": tombstone["event_id"]}
    assert create["type"] == "org.example.town" and create["m.federate"] is False

    new_state = await full_state(hs, a, new)
    for key in [
        ("m.room.name", ""),
        ("m.room.topic", ""),
        ("m.room.avatar", ""),
        ("m.room.encryption", ""),
        ("m.room.join_rules", ""),
        ("m.room.history_visibility", ""),
        ("m.room.guest_access", ""),
        ("m.room.canonical_alias", ""),
        ("m.room.power_levels", ""),
    ]:
        assert new_state[key]["content"] == before[key]["content"], key
    assert ("org.example.custom", "") not in new_state
    assert new_state[("m.room.member", carol)]["content"]["membership"] == "ban"
    assert new_state[("m.room.member", dave)]["content"]["membership"] == "invite"
    assert new_state[("m.room.member", alice)]["content"]["membership"] == "join"
    assert ("m.room.member", bob) not in new_state  # members join by themselves

    # Aliases and the directory listing moved.
    assert (await hs.ok("GET", f"{V3}/directory/room/{quote(alias)}", token=a))["room_id"] == new
    assert (await hs.ok("GET", f"{V3}/directory/list/room/{new}", token=a))["visibility"] == (
        "public"
    )
    assert (await hs.ok("GET", f"{V3}/directory/list/room/{old}", token=a))["visibility"] == (
        "private"
    )
    assert "alias" not in old_state[("m.room.canonical_alias", "")]["content"]
    # The old room is restricted: sending and inviting need 50.
    power = old_state[("m.room.power_levels", "")]["content"]
    assert power["events_default"] == 50 and power["invite"] == 50
    status, _ = await hs.request(
        "PUT", f"{V3}/rooms/{old}/send/m.room.message/t1", {"body": "x"}, token=b
    )
    assert status == 200  # Bob has 60
    await hs.ok("POST", f"{V3}/rooms/{new}/join", {}, token=d)
    status, _ = await hs.request(
        "PUT", f"{V3}/rooms/{old}/send/m.room.message/t2", {"body": "x"}, token=d
    )
    assert status == 403  # Dave never joined the old room


async def test_upgrade_to_and_from_v12(hs: Hs) -> None:  # noqa: F811
    alice, a = await hs.user("alice")
    bob, b = await hs.user("bob")
    old = await hs.create_room(a, room_version="11", preset="public_chat")
    await hs.ok("POST", f"{V3}/rooms/{old}/join", {}, token=b)
    new = await upgrade(hs, a, old, "12", additional_creators=[bob])
    create_event = (await full_state(hs, a, new))[("m.room.create", "")]
    assert create_event["content"]["predecessor"] == {"room_id": old}  # v1.16: may omit
    assert create_event["content"]["additional_creators"] == [bob]
    assert (await hs.state(a, old, "m.room.tombstone"))["replacement_room"] == new
    power = await hs.state(a, new, "m.room.power_levels")
    assert alice not in power["users"] and bob not in power["users"]
    # Bob is a creator of the new room: he may upgrade it again, back to v11, where the
    # creator's power is explicit again.
    await hs.ok("POST", f"{V3}/rooms/{new}/join", {}, token=b)
    newer = await upgrade(hs, b, new, "11")
    power = await hs.state(b, newer, "m.room.power_levels")
    assert power["users"][bob] == 100
    create_event = (await full_state(hs, b, newer))[("m.room.create", "")]
    assert create_event["sender"] == bob  # v11 has no "creator" key: the sender is
    assert create_event["content"]["predecessor"]["room_id"] == new
    assert "creator" not in create_event["content"]
    # Into v10 the creator is named in the content.
    oldest = await upgrade(hs, b, newer, "10")
    assert (await hs.state(b, oldest, "m.room.create"))["creator"] == bob


async def test_upgrade_errors(hs: Hs) -> None:  # noqa: F811
    _, a = await hs.user("alice")
    _, c = await hs.user("carol")
    room = await hs.create_room(a)
    assert await hs.err("POST", f"{V3}/rooms/{room}/upgrade", {"new_version": "99"}, token=a) == (
        400,
        "M_UNSUPPORTED_ROOM_VERSION",
    )
    assert await hs.err(
        "POST", f"{V3}/rooms/!bogus:{SERVER_NAME}/upgrade", {"new_version": "11"}, token=a
    ) == (404, "M_NOT_FOUND")
    assert await hs.err("POST", f"{V3}/rooms/{room}/upgrade", {"new_version": "11"}, token=c) == (
        403,
        "M_FORBIDDEN",
    )
    assert await hs.err("POST", f"{V3}/rooms/{room}/upgrade", {}, token=a) == (
        400,
        "M_MISSING_PARAM",
    )
    # Nothing was created by the refused requests.
    assert (await hs.ok("GET", f"{V3}/joined_rooms", token=a))["joined_rooms"] == [room]

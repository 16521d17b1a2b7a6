"""``POST /createRoom`` over real HTTP: presets, alias, errors."""

from __future__ import annotations

from tests.api.conftest import SERVER_NAME, Client

V3 = "/_matrix/client/v3"


async def test_create_room_and_read_its_state(client: Client) -> None:
    alice = await client.register("alice")
    bob = await client.register("bob")
    status, body = await client.request(
        "POST",
        f"{V3}/createRoom",
        {
            "preset": "public_chat",
            "name": "Pub",
            "topic": "beer",
            "room_alias_name": "pub",
            "invite": [bob["user_id"]],
            "creation_content": {"m.federate": False},
        },
        token=alice["access_token"],
    )
    assert status == 200, body
    room_id = body["room_id"]
    status, state = await client.request(
        "GET", f"{V3}/rooms/{room_id}/state", token=alice["access_token"]
    )
    assert status == 200
    by_key = {(e["type"], e["state_key"]): e for e in state}
    create = by_key[("m.room.create", "")]
    assert create["content"]["m.federate"] is False
    assert create["content"]["room_version"] == "12"
    assert by_key[("m.room.name", "")]["content"] == {"name": "Pub"}
    assert by_key[("m.room.topic", "")]["content"]["topic"] == "beer"
    assert by_key[("m.room.join_rules", "")]["content"] == {"join_rule": "public"}
    assert by_key[("m.room.canonical_alias", "")]["content"]["alias"] == f"#pub:{SERVER_NAME}"
    assert by_key[("m.room.member", bob["user_id"])]["content"]["membership"] == "invite"
    assert all(e["room_id"] == room_id and "signatures" not in e for e in state)


async def test_create_room_errors(client: Client) -> None:
    token = (await client.register("alice"))["access_token"]
    status, body = await client.request(
        "POST", f"{V3}/createRoom", {"room_version": "v99"}, token=token
    )
    assert (status, body["errcode"]) == (400, "M_UNSUPPORTED_ROOM_VERSION")
    status, _ = await client.request(
        "POST", f"{V3}/createRoom", {"room_alias_name": "dup"}, token=token
    )
    assert status == 200
    status, body = await client.request(
        "POST", f"{V3}/createRoom", {"room_alias_name": "dup"}, token=token
    )
    assert (status, body["errcode"]) == (400, "M_ROOM_IN_USE")
    status, body = await client.request(
        "POST",
        f"{V3}/createRoom",
        {"room_version": "10", "name": "n", "power_level_content_override": {"state_default": 101}},
        token=token,
    )
    assert (status, body["errcode"]) == (400, "M_INVALID_ROOM_STATE")
    status, body = await client.request("POST", f"{V3}/createRoom", {"preset": "nope"}, token=token)
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await client.request("POST", f"{V3}/createRoom", raw=b"{nope", token=token)
    assert (status, body["errcode"]) == (400, "M_NOT_JSON")
    status, body = await client.request("POST", f"{V3}/createRoom", {})
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")
    status, body = await client.request("GET", f"{V3}/joined_rooms", token=token)
    assert status == 200 and len(body["joined_rooms"]) == 1  # only the "dup" room


async def test_concurrent_identical_v12_creates_get_distinct_rooms(client: Client) -> None:
    """v12 room ids hash the create event: identical requests in one millisecond must
    still make different rooms (found by the benchmark's parallel createRoom)."""
    import asyncio

    token = (await client.register("alice"))["access_token"]
    results = await asyncio.gather(
        *(
            client.request("POST", f"{V3}/createRoom", {"room_version": "12"}, token=token)
            for _ in range(10)
        )
    )
    assert [status for status, _ in results] == [200] * 10, results
    assert len({body["room_id"] for _, body in results}) == 10

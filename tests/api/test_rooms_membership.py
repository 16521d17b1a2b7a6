"""Membership endpoints over real HTTP: join, invite, leave, kick, ban, unban and the
member lists."""

from __future__ import annotations

from urllib.parse import quote

from tests.api.conftest import SERVER_NAME, Client

V3 = "/_matrix/client/v3"


async def test_membership_flow(client: Client) -> None:
    alice = await client.register("alice")
    bob = await client.register("bob")
    a, b = alice["access_token"], bob["access_token"]
    status, body = await client.request(
        "PUT",
        f"{V3}/profile/{quote(bob['user_id'])}/displayname",
        {"displayname": "Bobby"},
        token=b,
    )
    assert status == 200, body
    status, created = await client.request("POST", f"{V3}/createRoom", {}, token=a)
    room_id = created["room_id"]
    room = f"{V3}/rooms/{room_id}"

    status, body = await client.request("POST", f"{room}/join", {}, token=b)
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")  # private room
    status, _ = await client.request("POST", f"{room}/invite", {"user_id": bob["user_id"]}, token=a)
    assert status == 200
    status, body = await client.request("POST", f"{V3}/join/{quote(room_id)}", {}, token=b)
    assert (status, body) == (200, {"room_id": room_id})
    status, body = await client.request("GET", f"{V3}/joined_rooms", token=b)
    assert body == {"joined_rooms": [room_id]}
    status, body = await client.request("GET", f"{room}/joined_members", token=b)
    assert status == 200
    assert body["joined"][bob["user_id"]]["display_name"] == "Bobby"
    assert set(body["joined"]) == {alice["user_id"], bob["user_id"]}

    status, body = await client.request(
        "POST", f"{room}/kick", {"user_id": alice["user_id"]}, token=b
    )
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, _ = await client.request(
        "POST", f"{room}/kick", {"user_id": bob["user_id"], "reason": "r"}, token=a
    )
    assert status == 200
    status, body = await client.request("GET", f"{room}/members", token=a)
    member = {e["state_key"]: e for e in body["chunk"]}[bob["user_id"]]
    assert member["content"]["membership"] == "leave" and member["content"]["reason"] == "r"
    status, body = await client.request("GET", f"{room}/members?not_membership=leave", token=a)
    assert [e["state_key"] for e in body["chunk"]] == [alice["user_id"]]
    status, body = await client.request("GET", f"{room}/members?membership=bogus", token=a)
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")

    status, _ = await client.request("POST", f"{room}/ban", {"user_id": bob["user_id"]}, token=a)
    assert status == 200
    status, body = await client.request("POST", f"{room}/join", {}, token=b)
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, _ = await client.request("POST", f"{room}/unban", {"user_id": bob["user_id"]}, token=a)
    assert status == 200
    status, body = await client.request(
        "POST", f"{room}/unban", {"user_id": bob["user_id"]}, token=a
    )
    assert (status, body["errcode"]) == (403, "M_BAD_STATE")
    status, body = await client.request("GET", f"{room}/joined_members", token=b)
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")

    status, _ = await client.request("POST", f"{room}/leave", {}, token=a)
    assert status == 200
    status, body = await client.request("GET", f"{V3}/joined_rooms", token=a)
    assert body == {"joined_rooms": []}


async def test_join_by_alias_and_errors(client: Client) -> None:
    a = (await client.register("alice"))["access_token"]
    b = (await client.register("bob"))["access_token"]
    status, created = await client.request(
        "POST", f"{V3}/createRoom", {"preset": "public_chat", "room_alias_name": "lobby"}, token=a
    )
    alias = quote(f"#lobby:{SERVER_NAME}")
    status, body = await client.request("POST", f"{V3}/join/{alias}", None, token=b)
    assert (status, body) == (200, {"room_id": created["room_id"]})
    status, body = await client.request(
        "POST", f"{V3}/join/{quote('#none:' + SERVER_NAME)}", {}, token=b
    )
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await client.request(
        "POST", f"{V3}/join/{quote('!x:' + SERVER_NAME)}", {}, token=b
    )
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    room = f"{V3}/rooms/{created['room_id']}"
    status, body = await client.request("POST", f"{room}/invite", {}, token=a)
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    status, body = await client.request("POST", f"{room}/invite", {"user_id": "bob"}, token=a)
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await client.request(
        "POST", f"{room}/invite", {"user_id": "@x:elsewhere.example"}, token=a
    )
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")

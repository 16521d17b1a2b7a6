"""Room endpoint details found by Sytest's rooms area, each checked against the spec over
real HTTP: ``createRoom`` with a non-string ``room_version`` (create_room.yaml: a
malformed body is ``M_BAD_JSON``) and ``GET /state/{type}/{key}?format=event``
(rooms.yaml, v1.16); profile changes sent as membership events to joined rooms;
guest access rules for joins and on revocation."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from tests.api.conftest import Client

V3 = "/_matrix/client/v3"


async def test_create_room_with_a_numeric_version_is_bad_json(client: Client) -> None:
    token = (await client.register("alice"))["access_token"]
    for version in (1, 10, ["10"], True):
        status, body = await client.request(
            "POST", f"{V3}/createRoom", {"room_version": version}, token=token
        )
        assert (status, body["errcode"]) == (400, "M_BAD_JSON"), version
    status, body = await client.request("GET", f"{V3}/joined_rooms", token=token)
    assert status == 200 and body["joined_rooms"] == []
    status, body = await client.request(
        "POST", f"{V3}/createRoom", {"room_version": "10"}, token=token
    )
    assert status == 200, body


async def test_state_event_format_event_returns_the_client_event(client: Client) -> None:
    alice = await client.register("alice")
    token = alice["access_token"]
    status, body = await client.request("POST", f"{V3}/createRoom", {"name": "N"}, token=token)
    assert status == 200
    room_id = body["room_id"]
    member = f"{V3}/rooms/{room_id}/state/m.room.member/{alice['user_id']}"

    status, content = await client.request("GET", member, token=token)
    assert status == 200 and content["membership"] == "join" and "sender" not in content
    status, same = await client.request("GET", member + "?format=content", token=token)
    assert (status, same) == (200, content)

    status, event = await client.request("GET", member + "?format=event", token=token)
    assert status == 200, event
    assert event["type"] == "m.room.member"
    assert event["state_key"] == event["sender"] == alice["user_id"]
    assert event["room_id"] == room_id and event["event_id"].startswith("$")
    assert event["content"] == content
    assert isinstance(event["origin_server_ts"], int)
    assert "signatures" not in event and "auth_events" not in event

    # The empty state key (trailing part left out) works the same way.
    status, name = await client.request(
        "GET", f"{V3}/rooms/{room_id}/state/m.room.name?format=event", token=token
    )
    assert status == 200 and name["content"] == {"name": "N"} and name["state_key"] == ""

    status, err = await client.request("GET", member + "?format=pdu", token=token)
    assert (status, err["errcode"]) == (400, "M_INVALID_PARAM")
    status, err = await client.request(
        "GET", f"{V3}/rooms/{room_id}/state/m.room.topic?format=event", token=token
    )
    assert (status, err["errcode"]) == (404, "M_NOT_FOUND")
    bob = await client.register("bob")
    status, err = await client.request("GET", member + "?format=event", token=bob["access_token"])
    assert (status, err["errcode"]) == (403, "M_FORBIDDEN")


async def test_profile_changes_update_the_member_events_of_joined_rooms(client: Client) -> None:
    """client-server-api "Events on Change of Profile Information"."""
    alice = await client.register("alice")
    bob = await client.register("bob")
    a, b = alice["access_token"], bob["access_token"]
    user = alice["user_id"]
    rooms = []
    for extra in ({}, {"preset": "public_chat"}):
        status, body = await client.request("POST", f"{V3}/createRoom", extra, token=a)
        assert status == 200
        rooms.append(body["room_id"])
    status, body = await client.request("POST", f"{V3}/createRoom", {}, token=b)
    invited_room = body["room_id"]
    status, _ = await client.request(
        "POST", f"{V3}/rooms/{invited_room}/invite", {"user_id": user}, token=b
    )
    assert status == 200
    # A custom key in the join content survives the update.
    member = f"{V3}/rooms/{rooms[0]}/state/m.room.member/{quote(user)}"
    status, _ = await client.request(
        "PUT", member, {"membership": "join", "org.example.flag": 1}, token=a
    )
    assert status == 200

    profile = f"{V3}/profile/{quote(user)}"
    status, _ = await client.request(
        "PUT", f"{profile}/displayname", {"displayname": "LemurLover"}, token=a
    )
    assert status == 200
    status, _ = await client.request(
        "PUT", f"{profile}/avatar_url", {"avatar_url": "mxc://test.local/lemur"}, token=a
    )
    assert status == 200
    for room_id in rooms:
        status, content = await client.request(
            "GET", f"{V3}/rooms/{room_id}/state/m.room.member/{quote(user)}", token=a
        )
        assert status == 200
        assert content["displayname"] == "LemurLover"
        assert content["avatar_url"] == "mxc://test.local/lemur"
        assert content["membership"] == "join"
    status, content = await client.request("GET", member, token=a)
    assert content["org.example.flag"] == 1
    # The invite is left alone (only joined rooms get an event).
    status, content = await client.request(
        "GET", f"{V3}/rooms/{invited_room}/state/m.room.member/{quote(user)}", token=b
    )
    assert content["membership"] == "invite" and "avatar_url" not in content

    # Removing the display name removes it from the member events; setting the same
    # value again sends nothing new.
    status, before = await client.request("GET", f"{member}?format=event", token=a)
    status, _ = await client.request(
        "PUT", f"{profile}/avatar_url", {"avatar_url": "mxc://test.local/lemur"}, token=a
    )
    status, after = await client.request("GET", f"{member}?format=event", token=a)
    assert after["event_id"] == before["event_id"]
    status, _ = await client.request("DELETE", f"{profile}/displayname", token=a)
    assert status == 200
    status, content = await client.request("GET", member, token=a)
    assert "displayname" not in content and content["avatar_url"] == "mxc://test.local/lemur"


async def test_guests_join_only_can_join_rooms_and_leave_on_revocation(client: Client) -> None:
    """client-server-api "Guest Access", "Server behaviour"."""
    alice = await client.register("alice")
    a = alice["access_token"]
    status, body = await client.request(
        "POST", f"{V3}/createRoom", {"preset": "public_chat", "room_alias_name": "g"}, token=a
    )
    room_id = body["room_id"]
    status, guest = await client.request("POST", f"{V3}/register?kind=guest", {})
    assert status == 200
    g, guest_id = guest["access_token"], guest["user_id"]
    # public_chat: guest_access forbidden -> no join, by id nor by alias.
    for path in (f"{V3}/rooms/{room_id}/join", f"{V3}/join/{quote('#g:test.local')}"):
        status, err = await client.request("POST", path, {}, token=g)
        assert (status, err["errcode"]) == (403, "M_FORBIDDEN"), path
    # A regular user still joins.
    bob = await client.register("bob")
    status, _ = await client.request(
        "POST", f"{V3}/rooms/{room_id}/join", {}, token=bob["access_token"]
    )
    assert status == 200

    guest_access = f"{V3}/rooms/{room_id}/state/m.room.guest_access"
    status, _ = await client.request("PUT", guest_access, {"guest_access": "can_join"}, token=a)
    assert status == 200
    status, _ = await client.request("POST", f"{V3}/join/{quote('#g:test.local')}", {}, token=g)
    assert status == 200
    member = f"{V3}/rooms/{room_id}/state/m.room.member/{quote(guest_id)}"
    status, content = await client.request("GET", member, token=a)
    assert content["membership"] == "join"

    # Revoked: the guest leaves, the regular user stays.
    status, _ = await client.request("PUT", guest_access, {"guest_access": "forbidden"}, token=a)
    assert status == 200
    await client.server.guest_access.drain()
    for _ in range(50):
        status, content = await client.request("GET", member, token=a)
        if content["membership"] == "leave":
            break
        await asyncio.sleep(0.02)
    assert content["membership"] == "leave"
    status, content = await client.request(
        "GET", f"{V3}/rooms/{room_id}/state/m.room.member/{quote(bob['user_id'])}", token=a
    )
    assert content["membership"] == "join"
    status, err = await client.request("POST", f"{V3}/rooms/{room_id}/join", {}, token=g)
    assert (status, err["errcode"]) == (403, "M_FORBIDDEN")

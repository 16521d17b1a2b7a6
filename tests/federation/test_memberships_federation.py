"""Memberships across two or three real ranvier servers on loopback HTTPS: invites v2
(into /sync with stripped state), rejecting invites with make_leave/send_leave, leaving
and rejoining, bans, knocks, remote aliases, the remote room directory and hierarchy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ranvier.core.signing import generate_signing_key, sign_json
from ranvier.federation.client import RemoteError, path_segment
from ranvier.http.types import MatrixError
from tests.api.identity_server import TestIdentityServer
from tests.federation.helpers import (
    call,
    eventually,
    has_event,
    login,
    membership,
    membership_is,
    shared_room,
    start_two,
)
from tests.federation.peers import Peer

V1 = "/_matrix/federation/v1"


async def test_invite_sync_join_and_messages(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    alice = f"@alice:{a.name}"
    await a.hs.accounts.create_account(alice, "pw")
    token = await login(b, "bob")
    bob = f"@bob:{b.name}"
    room_id = await a.hs.rooms.create_room(alice, preset="private_chat", name="Secret")
    invite_id = await a.hs.membership.invite(room_id, alice, bob)
    # A stored the invite with B's signature next to its own.
    stored = await a.hs.room_storage.events.get_by_id(invite_id)
    assert stored is not None and set(stored.event.pdu["signatures"]) == {a.name, b.name}
    # B shows it in /sync with the stripped state A sent.
    status, sync = await call(b, "GET", "/_matrix/client/v3/sync", token)
    assert status == 200
    invite_state = sync["rooms"]["invite"][room_id]["invite_state"]["events"]
    types = {(e["type"], e["state_key"]) for e in invite_state}
    assert ("m.room.create", "") in types and ("m.room.member", alice) in types
    assert any(
        e["type"] == "m.room.name" and e["content"]["name"] == "Secret" for e in invite_state
    )
    assert invite_state[-1]["content"]["membership"] == "invite"
    assert invite_state[-1]["state_key"] == bob
    # Bob joins through the inviter's server (no via given).
    status, body = await call(
        b, "POST", f"/_matrix/client/v3/join/{path_segment(room_id)}", token, {}
    )
    assert status == 200, body
    await eventually(lambda: membership_is(a, room_id, bob, "join"))
    to_b = await a.hs.rooms.send_event(room_id, alice, "m.room.message", {"body": "welcome"})
    await eventually(lambda: has_event(b, to_b))
    to_a = await b.hs.rooms.send_event(room_id, bob, "m.room.message", {"body": "thanks"})
    await eventually(lambda: has_event(a, to_a))


async def test_reject_invite_with_make_leave(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    alice, bob = f"@alice:{a.name}", f"@bob:{b.name}"
    await a.hs.accounts.create_account(alice, "pw")
    token = await login(b, "bob")
    room_id = await a.hs.rooms.create_room(alice, preset="private_chat")
    await a.hs.membership.invite(room_id, alice, bob)
    await eventually(lambda: membership_is(b, room_id, bob, "invite"))
    status, _ = await call(
        b, "POST", f"/_matrix/client/v3/rooms/{path_segment(room_id)}/leave", token, {}
    )
    assert status == 200
    # The leave went through A (make_leave/send_leave) into the room.
    assert await membership(a, room_id, bob) == "leave"
    assert await membership(b, room_id, bob) == "leave"
    status, sync = await call(b, "GET", "/_matrix/client/v3/sync", token)
    assert room_id not in sync["rooms"]["invite"]


async def test_reject_invite_locally_when_no_server_takes_the_leave(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    """The inviter left, so A is no longer in the room and refuses make_leave: B still
    rejects the invite, locally, and it leaves B's /sync for good."""
    a, b = await start_two(tmp_path, peers, databases)
    alice, bob = f"@alice:{a.name}", f"@bob:{b.name}"
    await a.hs.accounts.create_account(alice, "pw")
    token = await login(b, "bob")
    room_id = await a.hs.rooms.create_room(alice, preset="private_chat")
    await a.hs.membership.invite(room_id, alice, bob)
    await eventually(lambda: membership_is(b, room_id, bob, "invite"))
    await a.hs.membership.leave(room_id, alice)
    with pytest.raises(RemoteError):  # A really cannot help any more
        await b.hs.federation.client.get_json(
            a.name, f"{V1}/make_leave/{path_segment(room_id)}/{path_segment(bob)}"
        )
    status, body = await call(
        b, "POST", f"/_matrix/client/v3/rooms/{path_segment(room_id)}/leave", token, {}
    )
    assert status == 200, body
    assert await membership(b, room_id, bob) == "leave"
    assert await membership(a, room_id, bob) == "invite"  # nothing reached the room
    status, sync = await call(b, "GET", "/_matrix/client/v3/sync", token)
    assert room_id not in sync["rooms"]["invite"]
    assert room_id in sync["rooms"]["leave"] or room_id not in sync["rooms"]["join"]


async def test_guest_joins_remote_room_only_with_guest_access(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    """B holds nothing of A's room until the join brings its state; then a guest whose
    room forbids guests leaves again at once and gets 403 (client-server-api "Guest
    Access"), and joins for good once the room says can_join."""
    a, b = await start_two(tmp_path, peers, databases)
    alice = f"@alice:{a.name}"
    await a.hs.accounts.create_account(alice, "pw")
    guest = f"@1234:{b.name}"
    await b.hs.accounts.create_account(guest, None, is_guest=True)
    session = await b.hs.accounts.start_session(guest, None, None, refreshable=False)
    token = session.tokens.access_token
    room_id = await a.hs.rooms.create_room(alice, preset="private_chat")
    await a.hs.rooms.set_state(
        room_id, alice, "m.room.guest_access", "", {"guest_access": "forbidden"}
    )
    await a.hs.membership.invite(room_id, alice, guest)
    await eventually(lambda: membership_is(b, room_id, guest, "invite"))
    join_path = f"/_matrix/client/v3/rooms/{path_segment(room_id)}/join"
    status, body = await call(b, "POST", join_path, token, {})
    assert (status, body.get("errcode")) == (403, "M_FORBIDDEN"), body
    await eventually(lambda: membership_is(a, room_id, guest, "leave"))
    await a.hs.rooms.set_state(
        room_id, alice, "m.room.guest_access", "", {"guest_access": "can_join"}
    )
    await a.hs.membership.invite(room_id, alice, guest)
    await eventually(lambda: membership_is(b, room_id, guest, "invite"))
    status, body = await call(b, "POST", join_path, token, {})
    assert status == 200, body
    await eventually(lambda: membership_is(a, room_id, guest, "join"))


async def test_leave_rejoin_and_ban(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    room_id, alice, bob = await shared_room(a, b)
    await b.hs.membership.leave(room_id, bob)
    await eventually(lambda: membership_is(a, room_id, bob, "leave"))
    # A's events no longer go to B, which is out of the room.
    while_away = await a.hs.rooms.send_event(room_id, alice, "m.room.message", {"body": "gone"})
    # Rejoin: B is not in the room any more, so it joins through A again.
    await b.hs.membership.join(room_id, bob)
    assert await membership(a, room_id, bob) == "join"
    after = await a.hs.rooms.send_event(room_id, alice, "m.room.message", {"body": "back"})
    await eventually(lambda: has_event(b, after))
    mine = await b.hs.rooms.send_event(room_id, bob, "m.room.message", {"body": "hello again"})
    await eventually(lambda: has_event(a, mine))
    assert await has_event(a, while_away)
    # Ban across servers: B sees it, and bob cannot rejoin.
    await a.hs.membership.ban(room_id, alice, bob, "bye")
    await eventually(lambda: membership_is(b, room_id, bob, "ban"))
    with pytest.raises(MatrixError) as err:
        await b.hs.membership.join(room_id, bob)
    assert err.value.status in (403, 404)
    assert await membership(a, room_id, bob) == "ban"


async def test_knock_and_accept(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    alice, bob = f"@alice:{a.name}", f"@bob:{b.name}"
    await a.hs.accounts.create_account(alice, "pw")
    token = await login(b, "bob")
    room_id = await a.hs.rooms.create_room(
        alice,
        preset="private_chat",
        name="Knock here",
        initial_state=[
            {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}
        ],
    )
    status, body = await call(
        b,
        "POST",
        f"/_matrix/client/v3/knock/{path_segment(room_id)}?via={a.name}",
        token,
        {"reason": "let me in"},
    )
    assert (status, body) == (200, {"room_id": room_id})
    assert await membership(a, room_id, bob) == "knock"
    status, sync = await call(b, "GET", "/_matrix/client/v3/sync", token)
    knock_state = sync["rooms"]["knock"][room_id]["knock_state"]["events"]
    assert any(
        e["type"] == "m.room.name" and e["content"]["name"] == "Knock here" for e in knock_state
    )
    assert knock_state[-1]["content"]["membership"] == "knock"
    # Alice accepts by inviting; the invite reaches B (not in the room) through /v2/invite.
    await a.hs.membership.invite(room_id, alice, bob)
    await eventually(lambda: membership_is(b, room_id, bob, "invite"))
    await b.hs.membership.join(room_id, bob)
    assert await membership(a, room_id, bob) == "join"
    # Knocking where knocks are not allowed is refused by the resident server.
    closed = await a.hs.rooms.create_room(alice, preset="private_chat")
    carol_token = await login(b, "carol")
    status, body = await call(
        b, "POST", f"/_matrix/client/v3/knock/{path_segment(closed)}?via={a.name}", carol_token, {}
    )
    assert status == 403, body


async def test_remote_alias_directory_and_hierarchy(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    alice = f"@alice:{a.name}"
    await a.hs.accounts.create_account(alice, "pw")
    token = await login(b, "bob")
    bob = f"@bob:{b.name}"
    room_id = await a.hs.rooms.create_room(
        alice, preset="public_chat", name="Lobby", room_alias_name="lobby", visibility="public"
    )
    alias = f"#lobby:{a.name}"
    # B's client resolves A's alias through /query/directory.
    status, body = await call(b, "GET", f"/_matrix/client/v3/directory/room/{path_segment(alias)}")
    assert status == 200 and body["room_id"] == room_id and a.name in body["servers"]
    status, body = await call(
        b, "GET", f"/_matrix/client/v3/directory/room/{path_segment('#nope:' + a.name)}"
    )
    assert status == 404 and body["errcode"] == "M_NOT_FOUND"
    # ... and joins by the alias.
    status, body = await call(
        b, "POST", f"/_matrix/client/v3/join/{path_segment(alias)}", token, {}
    )
    assert (status, body) == (200, {"room_id": room_id})
    assert await membership(a, room_id, bob) == "join"
    # publicRooms of A through B (GET passes through, POST with a filter too).
    status, body = await call(b, "GET", f"/_matrix/client/v3/publicRooms?server={a.name}")
    assert status == 200 and [c["room_id"] for c in body["chunk"]] == [room_id]
    assert body["chunk"][0]["num_joined_members"] == 2
    status, body = await call(
        b,
        "POST",
        f"/_matrix/client/v3/publicRooms?server={a.name}",
        token,
        {"filter": {"generic_search_term": "no such room"}},
    )
    assert status == 200 and body["chunk"] == []
    # /hierarchy of a space on A, asked by B: accessible child listed, private one not.
    space = await a.hs.rooms.create_room(
        alice, preset="public_chat", name="Space", creation_content={"type": "m.space"}
    )
    private = await a.hs.rooms.create_room(alice, preset="private_chat", name="Hidden")
    for child in (room_id, private):
        await a.hs.rooms.set_state(space, alice, "m.space.child", child, {"via": [a.name]})
    answer = await b.hs.federation.client.get_json(a.name, f"{V1}/hierarchy/{path_segment(space)}")
    assert answer["room"]["room_id"] == space
    assert {c["state_key"] for c in answer["room"]["children_state"]} == {room_id, private}
    assert [c["room_id"] for c in answer["children"]] == [room_id]
    assert answer["inaccessible_children"] == [private]
    # /query/directory for an alias of another server is 404.
    with pytest.raises(RemoteError) as err:
        await b.hs.federation.client.get_json(
            a.name, f"{V1}/query/directory", {"room_alias": f"#x:{b.name}"}
        )
    assert err.value.status == 404


async def test_invite_checks(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    """Invites B must refuse (invites-v2.yaml): not for one of its users, not signed
    by the sender's server, an unknown room version."""
    a, b = await start_two(tmp_path, peers, databases)
    room_id, alice, bob = await shared_room(a, b)
    stored = await a.hs.room_storage.events.get_by_id(
        await a.hs.rooms.send_event(room_id, alice, "m.room.message", {"body": "x"})
    )
    assert stored is not None
    event_id = stored.event.event_id
    path = f"/_matrix/federation/v2/invite/{path_segment(room_id)}/{path_segment(event_id)}"
    client = a.hs.federation.client
    with pytest.raises(RemoteError) as err:  # not an invite
        await client.put_json(b.name, path, {"room_version": "10", "event": stored.event.pdu})
    assert (err.value.status, err.value.errcode) == (400, "M_INVALID_PARAM")
    with pytest.raises(RemoteError) as err:
        await client.put_json(b.name, path, {"room_version": "999", "event": stored.event.pdu})
    assert (err.value.status, err.value.errcode) == (400, "M_INCOMPATIBLE_ROOM_VERSION")
    # An invite of a user of another server is not B's to sign.
    carol = f"@carol:{a.name}"
    await a.hs.accounts.create_account(carol, "pw")
    invite = await a.hs.membership.invite(room_id, alice, carol)
    pdu = await a.hs.room_storage.events.get_by_id(invite)
    assert pdu is not None
    path = f"/_matrix/federation/v2/invite/{path_segment(room_id)}/{path_segment(invite)}"
    with pytest.raises(RemoteError) as err:
        await client.put_json(b.name, path, {"room_version": "10", "event": pdu.event.pdu})
    assert (err.value.status, err.value.errcode) == (400, "M_INVALID_PARAM")
    assert bob  # B's own user stays joined


async def test_exchange_third_party_invite(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    """B exchanges a third-party invite signed by an identity server key the room's
    ``m.room.third_party_invite`` lists; A sends the invite (countersigned by B). A, the
    resident server, also asks the identity server whether the key is still valid
    (``key_validity_url``), so a real HTTPS identity server runs on loopback."""
    id_server = TestIdentityServer()
    await id_server.start(tmp_path)
    try:
        await _exchange_third_party_invite(tmp_path, peers, databases, id_server)
    finally:
        await id_server.stop()


async def _exchange_third_party_invite(
    tmp_path: Path,
    peers: list[Peer],
    databases: dict[str, str | None],
    id_server: TestIdentityServer,
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    for peer in (a, b):
        peer.hs.identity.verify_tls = False  # the test identity server's cert is self-signed
    alice, bob = f"@alice:{a.name}", f"@bob:{b.name}"
    await a.hs.accounts.create_account(alice, "pw")
    await b.hs.accounts.create_account(bob, "pw")
    room_id = await a.hs.rooms.create_room(alice, preset="private_chat")
    identity = id_server.key
    await a.hs.rooms.set_state(
        room_id,
        alice,
        "m.room.third_party_invite",
        "tok3n",
        {
            "display_name": "b...@example.org",
            "key_validity_url": id_server.isvalid_url,
            "public_key": identity.verify_key_base64,
        },
    )

    def partial(key: Any) -> dict[str, Any]:
        signed = sign_json({"mxid": bob, "sender": alice, "token": "tok3n"}, id_server.name, key)
        return {
            "type": "m.room.member",
            "room_id": room_id,
            "sender": alice,
            "state_key": bob,
            "content": {
                "membership": "invite",
                "third_party_invite": {"display_name": "b...@example.org", "signed": signed},
            },
        }

    path = f"{V1}/exchange_third_party_invite/{path_segment(room_id)}"
    client = b.hs.federation.client
    with pytest.raises(RemoteError) as err:  # signed by a key the room does not list
        await client.put_json(a.name, path, partial(generate_signing_key("0")))
    assert (err.value.status, err.value.errcode) == (403, "M_FORBIDDEN")
    assert await membership(a, room_id, bob) is None
    assert await client.put_json(a.name, path, partial(identity)) == {}
    assert await membership(a, room_id, bob) == "invite"
    assert await membership(b, room_id, bob) == "invite"
    await b.hs.membership.join(room_id, bob)
    assert await membership(a, room_id, bob) == "join"


async def test_client_hierarchy_walks_rooms_held_elsewhere(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    """B's client asks for a space B does not hold: the walk asks A (through the room
    id's server, then each link's via) and mixes in a child B holds itself."""
    a, b = await start_two(tmp_path, peers, databases)
    alice = f"@alice:{a.name}"
    await a.hs.accounts.create_account(alice, "pw")
    token = await login(b, "bob")
    bob = f"@bob:{b.name}"
    space_type = {"type": "m.space"}
    # The unknown root is asked of its id's server (a v10 id names it; v12 ids name
    # none, so such a root is only reached through a link's via); children are v12.
    space = await a.hs.rooms.create_room(
        alice, preset="public_chat", name="Space", creation_content=space_type, room_version="10"
    )
    lobby = await a.hs.rooms.create_room(alice, preset="public_chat", name="Lobby")
    hidden = await a.hs.rooms.create_room(alice, preset="private_chat", name="Hidden")
    sub = await a.hs.rooms.create_room(
        alice, preset="public_chat", name="Sub", creation_content=space_type
    )
    deep = await a.hs.rooms.create_room(alice, preset="public_chat", name="Deep")
    local = await b.hs.rooms.create_room(bob, preset="public_chat", name="On B")
    links = ((lobby, a.name), (hidden, a.name), (sub, a.name), (local, b.name))
    for order, (child, via) in enumerate(links):
        content = {"via": [via], "order": str(order)}
        await a.hs.rooms.set_state(space, alice, "m.space.child", child, content)
    await a.hs.rooms.set_state(sub, alice, "m.space.child", deep, {"via": [a.name]})
    assert await b.hs.room_storage.events.get_room(space) is None

    url = f"/_matrix/client/v1/rooms/{path_segment(space)}/hierarchy"
    status, body = await call(b, "GET", url, token)
    assert status == 200, body
    names = [r.get("name") for r in body["rooms"]]
    assert names == ["Space", "Lobby", "Sub", "Deep", "On B"]
    top = body["rooms"][0]
    assert {c["state_key"] for c in top["children_state"]} == {lobby, hidden, sub, local}
    status, body = await call(b, "GET", url + "?max_depth=1", token)
    assert [r.get("name") for r in body["rooms"]] == ["Space", "Lobby", "Sub", "On B"]
    status, body = await call(b, "GET", url + "?limit=2", token)
    assert [r.get("name") for r in body["rooms"]] == ["Space", "Lobby"]
    status, rest = await call(b, "GET", url + f"?limit=10&from={body['next_batch']}", token)
    assert [r.get("name") for r in rest["rooms"]] == ["Sub", "Deep", "On B"]
    # A private room of A's is refused (A answers the hierarchy, the user may not see it).
    private10 = await a.hs.rooms.create_room(
        alice, preset="private_chat", name="Private", room_version="10"
    )
    assert (
        await b.hs.federation_rooms.directory_client.hierarchy(private10, [a.name], False) is None
    )
    status, body = await call(
        b, "GET", f"/_matrix/client/v1/rooms/{path_segment(private10)}/hierarchy", token
    )
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")

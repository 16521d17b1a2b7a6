"""The user directory across two ranvier servers (client-server-api "User Directory"):
remote users are found through the rooms a server is in, with the display name of their
member events, and are forgotten when the server leaves the room."""

from __future__ import annotations

from pathlib import Path

from tests.federation.helpers import eventually, start_two
from tests.federation.peers import Peer


async def test_remote_members_found_until_the_server_leaves(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    alice, bob, carol = f"@alice:{a.name}", f"@bob:{b.name}", f"@carol:{b.name}"
    await a.hs.accounts.create_account(alice, "pw")
    await b.hs.accounts.create_account(bob, "pw")
    await b.hs.accounts.create_account(carol, "pw")
    await a.hs.profiles.set_field(alice, "displayname", "Alice Anders")
    await b.hs.profiles.set_field(bob, "displayname", "Bob Berg")
    room_id = await a.hs.rooms.create_room(alice, preset="public_chat", room_version="10")
    await b.hs.membership.join(room_id, bob, servers=[a.name])

    async def finds(peer: Peer, requester: str, term: str, user: str, name: str | None) -> bool:
        results, _ = await peer.hs.user_directory.search(requester, term)
        return [(r.user_id, r.display_name) for r in results] == [(user, name)]

    async def finds_nobody(peer: Peer, requester: str, term: str) -> bool:
        results, _ = await peer.hs.user_directory.search(requester, term)
        return results == []

    # B tracked the room it joined over federation (its state came with the join).
    await eventually(lambda: finds(b, bob, "anders", alice, "Alice Anders"))
    # Carol shares no room but the room is public.
    await eventually(lambda: finds(b, carol, "alice", alice, "Alice Anders"))
    # A learns bob's name from his join event.
    await eventually(lambda: finds(a, alice, "berg", bob, "Bob Berg"))
    # Bob renames himself: his new member event carries the name to A.
    await b.hs.profiles.set_field(bob, "displayname", "Robert Berg")
    await eventually(lambda: finds(a, alice, "robert", bob, "Robert Berg"))

    # Bob leaves: B is no longer in the room, so alice is forgotten there; A drops bob.
    await b.hs.membership.leave(room_id, bob)
    await eventually(lambda: finds_nobody(b, carol, "alice"))
    await eventually(lambda: finds_nobody(a, alice, "robert"))
    assert await b.hs.user_directory.store.tracked_rooms() == []
    assert await a.hs.user_directory.store.tracked_rooms() == [room_id]

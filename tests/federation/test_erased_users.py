"""Events of a user who deactivated with ``erase`` are served redacted to other servers.

Spec: client-server-api account_deactivation.yaml (``erase``: "servers which join
the room after the erasure request are served redacted copies of the events sent by
this account"; Synapse serves them redacted to every server). Two real ranvier
servers on loopback; B reads A's ``/event`` and ``/backfill`` before and after
alice's erasure (Sytest 50federation 32room-getevent.pl "Inbound federation redacts
events from erased users").
"""

from __future__ import annotations

from pathlib import Path

from ranvier.federation.client import path_segment
from tests.federation.helpers import eventually, has_event, shared_room, start_two
from tests.federation.peers import Peer

V1 = "/_matrix/federation/v1"


async def test_erased_users_events_served_redacted(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    room_id, alice, bob = await shared_room(a, b)
    carol = f"@carol:{a.name}"
    await a.hs.accounts.create_account(carol, "pw")
    await a.hs.membership.join(room_id, carol)
    said = await a.hs.rooms.send_event(room_id, alice, "m.room.message", {"body": "body1"})
    from_bob = await b.hs.rooms.send_event(room_id, bob, "m.room.message", {"body": "hi"})
    await eventually(lambda: has_event(a, from_bob))
    client = b.hs.federation.client

    async def served(event_id: str) -> dict[str, object]:
        answer = await client.get_json(a.name, f"{V1}/event/{path_segment(event_id)}")
        (pdu,) = answer["pdus"]
        content: dict[str, object] = pdu["content"]
        return content

    assert await served(said) == {"body": "body1"}
    await a.hs.accounts.deactivate(alice, erase=True)
    assert await served(said) == {}
    back = await client.get_json(
        a.name, f"{V1}/backfill/{path_segment(room_id)}", {"v": [said], "limit": 1}
    )
    assert [p["content"] for p in back["pdus"]] == [{}]
    # Other users' events, local or remote, are untouched; so is alice's own copy on
    # A for the members who saw it (the request is not shared over federation).
    assert await served(from_bob) == {"body": "hi"}
    stored = await a.hs.room_storage.events.get_by_id(said)
    assert stored is not None and stored.event.content == {"body": "body1"}

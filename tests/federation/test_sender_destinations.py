"""Which servers the federation sender pushes a room event to, with two real ranvier
servers on loopback.

Spec: server-server-api "PDUs" (the servers in the room get its events), "Inviting to
a room" (an invite reaches the invitee's server through ``/invite``). A server not in
the room gets no room events: not the invite (it had it through ``/invite``), nor a
ban of a user it never had in the room; the target's server does get the leave or
ban of a user that was invited or joined until then.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ranvier.core.events import JsonDict
from tests.federation.helpers import eventually, membership_is, start_two
from tests.federation.peers import Peer


async def test_invites_not_pushed_uninvites_and_kicks_are(
    tmp_path: Path, peers: list[Peer], databases: dict[str, str | None]
) -> None:
    a, b = await start_two(tmp_path, peers, databases)
    fed = a.hs.federation_rooms
    assert fed is not None
    pushed: dict[str, set[str]] = {}
    queue = fed.sender.queue_pdu

    async def spy(destinations: Iterable[str], pdu: JsonDict) -> None:
        destinations = list(destinations)
        event_type = pdu.get("type")
        key = f"{event_type}/{pdu.get('content', {}).get('membership')}/{pdu.get('state_key')}"
        pushed.setdefault(key, set()).update(destinations)
        await queue(destinations, pdu)

    fed.sender.queue_pdu = spy  # type: ignore[method-assign]
    alice, bob, carol = f"@alice:{a.name}", f"@bob:{b.name}", f"@carol:{b.name}"
    await a.hs.accounts.create_account(alice, "pw")
    await b.hs.accounts.create_account(bob, "pw")
    room_id = await a.hs.rooms.create_room(alice, preset="private_chat")

    async def seen(key: str) -> bool:
        return key in pushed

    # The invite went to B through /invite; the sender does not push it again.
    await a.hs.membership.invite(room_id, alice, bob)
    await eventually(lambda: seen(f"m.room.member/invite/{bob}"))
    assert pushed[f"m.room.member/invite/{bob}"] == set()
    # Rescinding it is pushed to B (bob was invited until then).
    await a.hs.membership.kick(room_id, alice, bob)
    await eventually(lambda: seen(f"m.room.member/leave/{bob}"))
    assert pushed[f"m.room.member/leave/{bob}"] == {b.name}
    # A ban of a user B never had in the room is not.
    await a.hs.membership.ban(room_id, alice, carol)
    await eventually(lambda: seen(f"m.room.member/ban/{carol}"))
    assert pushed[f"m.room.member/ban/{carol}"] == set()

    # bob joins (invited again), then is kicked: the kick reaches B, which is no longer
    # in the room after it.
    pushed.clear()
    await a.hs.membership.invite(room_id, alice, bob)
    await eventually(lambda: membership_is(b, room_id, bob, "invite"))
    await b.hs.membership.join(room_id, bob, servers=[a.name])
    await eventually(lambda: membership_is(a, room_id, bob, "join"))
    await a.hs.membership.kick(room_id, alice, bob, "bye")
    await eventually(lambda: seen(f"m.room.member/leave/{bob}"))
    assert pushed[f"m.room.member/leave/{bob}"] == {b.name}
    await eventually(lambda: membership_is(b, room_id, bob, "leave"))

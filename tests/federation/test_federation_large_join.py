"""Joining a room whose ``send_join`` answer spans many TCP reads: 300 members and 200
more state events hosted on another ranvier (server-server-api "Joining Rooms"). The
federation client must read the whole body, not just what arrived first."""

from __future__ import annotations

from pathlib import Path

from tests.federation.peers import start_peer


async def test_join_of_a_room_with_a_large_state(
    tmp_path: Path, databases: dict[str, str | None]
) -> None:
    a = await start_peer(tmp_path / "a", database=databases["a"])
    b = await start_peer(tmp_path / "b", database=databases["b"])
    try:
        owner, joiner = f"@owner:{a.name}", f"@joiner:{b.name}"
        await a.hs.accounts.create_account(owner, None)
        await b.hs.accounts.create_account(joiner, None)
        room_id = await a.hs.rooms.create_room(owner, preset="public_chat", name="big")
        for i in range(299):
            user = f"@m{i}:{a.name}"
            await a.hs.accounts.create_account(user, None)
            await a.hs.membership.join(room_id, user)
        for i in range(200):
            await a.hs.rooms.set_state(room_id, owner, "org.example.filler", f"k{i}", {"i": i})
        await b.hs.membership.join(room_id, joiner, servers=[a.name])
        members = await b.hs.rooms.joined_members(room_id, joiner)
        assert len(members) == 301
        state = await b.hs.rooms.get_state(room_id, joiner)
        assert len([e for e in state if e["type"] == "org.example.filler"]) == 200
    finally:
        await b.stop()
        await a.stop()

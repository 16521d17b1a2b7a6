"""The in-memory typing stream: set, stop, expiry, positions and the sync deltas."""

from __future__ import annotations

import asyncio
import time

from ranvier.ephemeral.typing import TypingState
from tests.ephemeral.conftest import Recorder

R1, R2 = "!one:example.org", "!two:example.org"
A, B = "@a:example.org", "@b:example.org"


async def test_set_and_stop_move_positions_and_wake_the_room() -> None:
    typing = TypingState(start_position=100)
    rec = Recorder()
    typing.listeners.add(rec)
    typing.set_typing(R1, A, True, 10_000)
    assert typing.current_position() == 101
    assert typing.event_for(R1) == {"type": "m.typing", "content": {"user_ids": [A]}}
    typing.set_typing(R1, B, True, 10_000)
    typing.set_typing(R1, A, True, 20_000)  # renewal: nobody new is typing
    assert typing.current_position() == 102
    assert typing.typing_users(R1) == [A, B]
    typing.set_typing(R1, A, False)
    typing.set_typing(R2, A, False)  # was not typing there: no change
    assert typing.current_position() == 103
    assert rec.calls == [(101, [R1], []), (102, [R1], []), (103, [R1], [])]
    typing.close()


async def test_changes_since_gives_the_full_list_of_changed_rooms() -> None:
    typing = TypingState(start_position=0)
    typing.set_typing(R1, A, True, 10_000)  # 1
    typing.set_typing(R2, B, True, 10_000)  # 2
    both = [R1, R2]
    assert typing.changes_since(A, both, 0) == {
        R1: {"type": "m.typing", "content": {"user_ids": [A]}},
        R2: {"type": "m.typing", "content": {"user_ids": [B]}},
    }
    assert set(typing.changes_since(A, both, 1)) == {R2}
    assert typing.changes_since(A, both, 2) == {}
    assert set(typing.changes_since(A, both, 0, 1)) == {R1, R2}  # initial: current state
    assert set(typing.changes_since(A, both, 1, 1)) == set()
    assert set(typing.changes_since(A, [R1], 0)) == {R1}  # only rooms asked for
    typing.set_typing(R2, B, False)  # 3: an empty list is a change too
    assert typing.changes_since(A, both, 2) == {
        R2: {"type": "m.typing", "content": {"user_ids": []}}
    }
    # An initial sync also gets the (now empty) list of a room whose typing changed, so a
    # restarted client that saw B typing learns B stopped.
    assert typing.changes_since(A, both, 0) == {
        R1: typing.event_for(R1),
        R2: {"type": "m.typing", "content": {"user_ids": []}},
    }
    # A token this process never issued (from the future): everything is resent.
    assert set(typing.changes_since(A, both, 99)) == {R1, R2}
    typing.close()


async def test_typing_expires_after_its_timeout() -> None:
    typing = TypingState(start_position=0)
    rec = Recorder()
    typing.listeners.add(rec)
    typing.set_typing(R1, A, True, 50)
    typing.set_typing(R2, A, True, 50)
    typing.set_typing(R1, B, True, 400)
    await asyncio.sleep(0.2)
    assert typing.typing_users(R1) == [B]
    assert typing.typing_users(R2) == []
    # Both rooms of the same expiry pass share one position.
    assert rec.calls[-1] == (4, [R1, R2], [])
    await asyncio.sleep(0.4)
    assert typing.typing_users(R1) == []
    assert rec.calls[-1] == (5, [R1], [])
    typing.close()


async def test_renewal_postpones_expiry() -> None:
    typing = TypingState(start_position=0)
    typing.set_typing(R1, A, True, 100)
    await asyncio.sleep(0.05)
    typing.set_typing(R1, A, True, 300)
    await asyncio.sleep(0.15)  # past the first timeout, inside the second
    assert typing.typing_users(R1) == [A]
    assert typing.current_position() == 1
    await asyncio.sleep(0.3)
    assert typing.typing_users(R1) == []
    assert typing.current_position() == 2
    typing.close()


async def test_timeout_is_capped() -> None:
    typing = TypingState(start_position=0, max_timeout_ms=50)
    typing.set_typing(R1, A, True, 10_000_000)
    await asyncio.sleep(0.2)
    assert typing.typing_users(R1) == []
    typing.close()


async def test_positions_start_from_the_clock_so_restarts_only_grow() -> None:
    before = time.time_ns() // 1000
    first = TypingState()
    first.set_typing(R1, A, True, 1000)
    second = TypingState()  # "after a restart"
    assert before <= first.current_position() - 1 < second.current_position()
    first.close()


async def test_forgotten_idle_rooms_raise_the_floor() -> None:
    typing = TypingState(start_position=0, max_idle_rooms=2)
    rooms = [f"!r{i}:example.org" for i in range(4)]
    for room in rooms:
        typing.set_typing(room, A, True, 10_000)
        typing.set_typing(room, A, False)
    # positions 1..8; only the last two rooms are remembered.
    assert typing.changes_since(A, rooms, 7) == {rooms[3]: typing.event_for(rooms[3])}
    # From before the floor every asked room gets its current (empty) list.
    assert set(typing.changes_since(A, rooms, 3)) == set(rooms)
    typing.close()

"""CPU per message with and without push processing (push rules evaluated for every
local member, notification rows and counts written).

Builds a whole homeserver in this process (SQLite in a temporary directory), makes a
room with ``--members`` local users, and sends ``--messages`` messages through the
room service from rotating senders, waiting each time until every bus consumer is
done. The process CPU time (``time.process_time``: all threads, so the SQLite writer
is counted) divided by the messages is the cost per message. The same run is made
twice, interleaved: with the push processor subscribed to room events, and with its
subscription cancelled. With ``--concurrency K`` the messages are sent by K concurrent
senders and the consumers settle only at the end (push then records queued events in
batches, as under real load).

    .venv/bin/python bench/bench_push.py [--members 10] [--messages 300] [--repeat 3]
        [--concurrency 1]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from pathlib import Path

from ranvier.config import Config
from ranvier.config.schema import ClientApiConfig, DatabaseConfig, GlobalConfig, UserApiConfig
from ranvier.server import Homeserver

SERVER_NAME = "bench.local"


async def _settle(server: Homeserver) -> None:
    """Wait until the room queues and every bus consumer are idle."""
    await server.room_input.queues.drain()
    for _ in range(1000):
        subs = [s for group in server.bus._subs.values() for s in group]
        if all(s.queue.empty() for s in subs):
            break
        await asyncio.sleep(0)
    await server.push.processor.caught_up(2**62)


async def _drain(server: Homeserver) -> None:
    """:func:`_settle`, and write push's pending counts and rows (they are batched)."""
    await _settle(server)
    await server.push.notifications.flush()


async def run_once(
    members: int, messages: int, push: bool, workdir: Path, concurrency: int = 1
) -> float:
    config = Config(
        global_=GlobalConfig(
            server_name=SERVER_NAME,
            database=DatabaseConfig(connection_string=f"file:{workdir / 'hs.sqlite'}"),
            private_key=workdir / "missing.key",
        ),
        client_api=ClientApiConfig(registration_disabled=False),
        user_api=UserApiConfig(bcrypt_cost=4),
    )
    server = await Homeserver.open(config)
    try:
        if not push and server.push.subscription is not None:
            server.push.subscription.cancel()
        users = [f"@u{i}:{SERVER_NAME}" for i in range(members)]
        for user in users:
            await server.accounts.create_account(user, "pw")
        room = await server.rooms.create_room(users[0], preset="public_chat")
        for user in users[1:]:
            await server.membership.join(room, user)
        await _settle(server)
        for i in range(20):  # warm-up: caches, compiled rules
            await server.rooms.send_event(
                room, users[i % members], "m.room.message", {"msgtype": "m.text", "body": "w"}
            )
        await _settle(server)
        start = time.process_time()
        if concurrency <= 1:
            for i in range(messages):
                await server.rooms.send_event(
                    room,
                    users[i % members],
                    "m.room.message",
                    {"msgtype": "m.text", "body": f"message {i}"},
                )
                await _settle(server)
        else:

            async def sender(k: int) -> None:
                for i in range(k, messages, concurrency):
                    await server.rooms.send_event(
                        room,
                        users[i % members],
                        "m.room.message",
                        {"msgtype": "m.text", "body": f"message {i}"},
                    )

            await asyncio.gather(*(sender(k) for k in range(concurrency)))
        await _drain(server)
        return (time.process_time() - start) / messages * 1000
    finally:
        await server.stop(1.0)


async def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--concurrency", type=int, default=1, help="concurrent senders (1: settle after each)"
    )
    args = parser.parse_args()
    results: dict[bool, list[float]] = {True: [], False: []}
    for r in range(args.repeat):
        for push in (False, True) if r % 2 == 0 else (True, False):
            with tempfile.TemporaryDirectory() as tmp:
                ms = await run_once(args.members, args.messages, push, Path(tmp), args.concurrency)
            results[push].append(ms)
            print(f"run {r + 1} push={'on ' if push else 'off'}: {ms:.3f} ms CPU/message")
    off = statistics.median(results[False])
    on = statistics.median(results[True])
    print(
        f"members={args.members} messages={args.messages} concurrency={args.concurrency}: "
        f"median without push {off:.3f} ms, "
        f"with push {on:.3f} ms CPU per message (+{(on - off) / off * 100:.1f}%)"
    )


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())

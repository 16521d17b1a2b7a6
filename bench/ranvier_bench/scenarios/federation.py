"""Federation benchmarks: joining a big remote room, and inbound transaction throughput,
for ranvier and Synapse side by side.

Run: ``cd bench && ../.venv/bin/python -m ranvier_bench.scenarios.federation
[--scale 1.0] [--only join,txn] [--pdus 2000] [--keep DIR]`` (Synapse from
``RANVIER_SYNAPSE_PYTHON`` or ``../.venv-synapse``). It needs two or three servers at
once, which the single-server scenario runner does not do, so it is its own command;
it prints one line per measurement and a JSON summary.

What is measured
----------------
*Join* (server-server-api "Joining Rooms"): a room with ``2000 x scale`` joined
members and ``5000 x scale`` state events (members included) lives on a *host*; a user
of a *joiner* server calls ``POST /join/{roomId}?server_name=host``. Reported: the wall
time of that request, the time until the joiner's ``/joined_members`` shows every
member, and the CPU seconds the joiner's process tree spent over both (the host's CPU
separately). Pairs: ranvier -> ranvier, ranvier -> Synapse, Synapse -> Synapse, and
Synapse -> ranvier. The ranvier host builds its room in-process before it listens; the
Synapse host over its Client-Server API (minutes at full scale; not measured).

*Inbound transactions* ("Transactions", "Checks performed on receipt of a PDU"): a
scripted remote (:mod:`.federation_remote`: its own key, serving it) joins a room on
the server under test, then pushes ``--pdus`` signed messages, chained, 50 per
transaction, one transaction at a time, each sent once the previous one's last PDU is
readable over the Client-Server API (Synapse answers a transaction before it has
persisted its PDUs, and drops a staged backlog over ~100 events, so the answers alone
would flatter it and then lose PDUs). Reported: PDUs per second of wall time, and the
receiver's CPU per PDU. Every PDU is checked by the receiver (signature,
hash, auth against auth events and state); the bench asserts each was accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from .federation_remote import ScriptedRemote
from .federation_servers import (
    BENCH_PASSWORD,
    Client,
    Proc,
    login,
    populate_over_http,
    register,
    start_ranvier,
    start_synapse,
)

WAIT_S = 900.0


def _seg(value: str) -> str:
    return quote(value, safe="")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _until(
    check: Callable[[], Awaitable[bool]], timeout: float = WAIT_S, poll: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(poll)


async def measure_join(
    session: aiohttp.ClientSession,
    host: Proc,
    room_id: str,
    members: int,
    joiner: Proc,
    joiner_user: Client,
) -> dict[str, Any]:
    """Time and CPU of ``joiner_user`` joining ``room_id`` on ``host``."""
    cpu0, host0 = joiner.cpu(), host.cpu()
    t0 = time.monotonic()
    await joiner_user.call(
        "POST",
        f"/_matrix/client/v3/join/{_seg(room_id)}?server_name={_seg(host.name)}",
        {},
    )
    t_join = time.monotonic() - t0

    async def complete() -> bool:
        try:
            return await joiner_user.joined_count(room_id) >= members + 1
        except RuntimeError:
            return False

    await _until(complete)
    t_full = time.monotonic() - t0
    state = await joiner_user.call("GET", f"/_matrix/client/v3/rooms/{_seg(room_id)}/state")
    return {
        "join_request_s": round(t_join, 3),
        "all_members_s": round(t_full, 3),
        "joiner_cpu_s": round(joiner.cpu() - cpu0, 2),
        "host_cpu_s": round(host.cpu() - host0, 2),
        "state_events_seen": len(state),
    }


async def measure_txns(target: Proc, owner: Client, remote: ScriptedRemote, pdus: int) -> Any:
    """Inbound PDUs/s with full checks on ``target``."""
    room_id = str(
        (await owner.call("POST", "/_matrix/client/v3/createRoom", {"preset": "public_chat"}))[
            "room_id"
        ]
    )
    await remote.join(target.name, room_id)

    async def readable(event_id: str) -> bool:
        try:
            path = f"/_matrix/client/v3/rooms/{_seg(room_id)}/event/{_seg(event_id)}"
            await owner.call("GET", path)
        except RuntimeError:
            return False
        return True

    async def persisted(event_id: str) -> None:
        # Polls back off (5 ms doubling to 200 ms) so that a slow receiver is not
        # also charged for hundreds of reads.
        delay, deadline = 0.005, time.monotonic() + WAIT_S
        while not await readable(event_id):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{event_id} never persisted")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)

    warm = remote.build_messages(room_id, 50)
    assert await remote.send(target.name, warm, persisted) == 50, "warm-up PDUs not accepted"
    events = remote.build_messages(room_id, pdus)
    cpu0 = target.cpu()
    t0 = time.monotonic()
    accepted = await remote.send(target.name, events, persisted)
    elapsed = time.monotonic() - t0
    cpu = target.cpu() - cpu0
    assert accepted == pdus, f"only {accepted} of {pdus} PDUs accepted"
    return {
        "pdus": pdus,
        "seconds": round(elapsed, 3),
        "pdus_per_s": round(pdus / elapsed, 1),
        "cpu_ms_per_pdu": round(1000 * cpu / pdus, 3),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the selected benchmarks; the results by name."""
    synapse_python = os.environ.get("RANVIER_SYNAPSE_PYTHON") or str(
        Path(__file__).resolve().parents[3] / ".venv-synapse" / "bin" / "python"
    )
    members, state = int(2000 * args.scale), int(5000 * args.scale)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="fedbench-"))
    results: dict[str, Any] = {"members": members, "state": state}
    procs: list[Proc] = []
    remote: ScriptedRemote | None = None

    def report(name: str, value: Any) -> None:
        results[name] = value
        print(f"{name}: {json.dumps(value)}", flush=True)

    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT_S)) as session:
            if "join" in args.only:
                t0 = time.monotonic()
                r_host = await start_ranvier(work / "r-host", _free_port(), members, state)
                procs.append(r_host)
                print(f"ranvier host populated in {time.monotonic() - t0:.1f} s", flush=True)
                s_host = await start_synapse(synapse_python, work / "s-host", _free_port())
                procs.append(s_host)
                t0 = time.monotonic()
                _, s_room = await populate_over_http(session, s_host, members, state)
                print(f"Synapse host populated in {time.monotonic() - t0:.1f} s", flush=True)
                assert r_host.room_id is not None
                pairs = [("ranvier", r_host, r_host.room_id), ("synapse", s_host, s_room)]
                for joiner_kind in ("ranvier", "synapse"):
                    for host_kind, host, room_id in pairs:
                        port = _free_port()
                        directory = work / f"{joiner_kind}-joins-{host_kind}"
                        if joiner_kind == "ranvier":
                            joiner = await start_ranvier(directory, port)
                            user = await login(session, joiner.base, "bench", BENCH_PASSWORD)
                        else:
                            joiner = await start_synapse(synapse_python, directory, port)
                            user = await register(session, joiner.base, "joiner")
                        # Joiners stay up to the end: later joiners must verify the
                        # earlier ones' signed join events with their keys.
                        procs.append(joiner)
                        report(
                            f"join_{joiner_kind}_joins_{host_kind}",
                            await measure_join(session, host, room_id, members, joiner, user),
                        )
                for p in list(procs):
                    await p.stop()
                    procs.remove(p)
            if "txn" in args.only:
                remote = ScriptedRemote(work / "remote", _free_port())
                await remote.start()
                target = await start_ranvier(work / "r-txn", _free_port())
                procs.append(target)
                owner = await login(session, target.base, "bench", BENCH_PASSWORD)
                report("txn_ranvier", await measure_txns(target, owner, remote, args.pdus))
                await target.stop()
                procs.remove(target)
                target = await start_synapse(synapse_python, work / "s-txn", _free_port())
                procs.append(target)
                owner = await register(session, target.base, "bench")
                report("txn_synapse", await measure_txns(target, owner, remote, args.pdus))
    finally:
        for p in procs:
            await p.stop()
        if remote is not None:
            await remote.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return results


async def _cancellable(work: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """Run ``work``; SIGTERM/SIGINT cancel it, so its cleanup stops every server."""
    import signal

    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    return await task


def main() -> None:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--pdus", type=int, default=2000)
    parser.add_argument("--only", default="join,txn")
    parser.add_argument("--keep", default=None, help="keep the servers' files in this dir")
    args = parser.parse_args()
    args.only = set(args.only.split(","))
    results = asyncio.run(_cancellable(run(args)))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

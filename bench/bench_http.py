"""Requests/s and server CPU per request of ranvier's HTTP layer.

Runs the server in a child process (uvloop, the full app chain: router, CORS, metrics,
with a trivial ``/_matrix/client/versions``-like handler) and drives it from this
process with keep-alive connections, optionally pipelined. The server's CPU time is read
from ``/proc/<pid>/stat`` before and after the measured window, so the figure is the
server's cost alone, whatever the client costs.

    .venv/bin/python bench/bench_http.py [--seconds 5] [--connections 8] [--pipeline 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time

VERSIONS = {"versions": ["r0.6.1", "v1.1", "v1.2", "v1.11"], "unstable_features": {}}


def serve() -> None:
    """Child process: run the server until stdin closes."""
    import uvloop

    from ranvier.http.app import build_app
    from ranvier.http.metrics import Metrics
    from ranvier.http.router import Router
    from ranvier.http.server import HttpServer
    from ranvier.http.types import Request, Response, json_response

    async def versions(request: Request) -> Response:
        return json_response(VERSIONS)

    async def main() -> None:
        router = Router()
        router.add("GET", "/_matrix/client/versions", versions, name="versions")
        server = HttpServer(build_app(router, metrics=Metrics()))
        port = (await server.start("127.0.0.1", 0))[0][1]
        print(port, flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)
        await server.shutdown(1.0)

    uvloop.run(main())


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU time of process ``pid`` in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


REQUEST = b"GET /_matrix/client/versions HTTP/1.1\r\nHost: bench\r\n\r\n"


async def client(port: int, pipeline: int, stop_at: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(REQUEST)
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    await reader.readexactly(length)
    one = len(head) + length  # every response has the same size (fixed-width Date)
    batch = REQUEST * pipeline
    done = 0
    while time.monotonic() < stop_at:
        writer.write(batch)
        await reader.readexactly(one * pipeline)
        done += pipeline
    counts.append(done)
    writer.close()


async def drive(port: int, pid: int, seconds: float, connections: int, pipeline: int) -> None:
    warm: list[int] = []
    await asyncio.gather(
        *(client(port, pipeline, time.monotonic() + 0.5, warm) for _ in range(connections))
    )
    counts: list[int] = []
    cpu_before = cpu_seconds(pid)
    start = time.monotonic()
    await asyncio.gather(
        *(client(port, pipeline, start + seconds, counts) for _ in range(connections))
    )
    elapsed = time.monotonic() - start
    cpu_after = cpu_seconds(pid)
    user = cpu_after[0] - cpu_before[0]
    system = cpu_after[1] - cpu_before[1]
    total = sum(counts)
    print(f"connections={connections} pipeline={pipeline} seconds={elapsed:.2f}")
    print(f"requests={total} rate={total / elapsed:,.0f} req/s")
    print(
        f"server CPU {(user + system) / total * 1e6:.1f} us/request "
        f"(user {user / total * 1e6:.1f}, system {system / total * 1e6:.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--pipeline", type=int, default=1)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root}
    child = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        import uvloop

        uvloop.run(drive(port, child.pid, args.seconds, args.connections, args.pipeline))
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)


if __name__ == "__main__":
    main()

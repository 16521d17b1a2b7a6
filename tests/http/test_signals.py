"""Graceful drain on SIGTERM, in a real child process."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

from tests.http.conftest import read_response

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    import uvloop
    from ranvier.http.app import build_app
    from ranvier.http.router import Router
    from ranvier.http.server import HttpServer, wait_for_signal
    from ranvier.http.types import json_response

    async def slow(request):
        await asyncio.sleep(1.0)
        return json_response({"finished": True})

    async def main():
        router = Router()
        router.add("GET", "/slow", slow)
        server = HttpServer(build_app(router))
        port = (await server.start("127.0.0.1", 0))[0][1]
        print(port, flush=True)
        sig = await wait_for_signal()
        print("signal", int(sig), flush=True)
        await server.shutdown(10.0)
        print("drained", flush=True)

    uvloop.run(main())
    """
)


async def test_sigterm_drains_in_flight_requests() -> None:
    root = Path(__file__).resolve().parents[2]
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert child.stdout is not None
    try:
        port = int(await asyncio.wait_for(child.stdout.readline(), 20))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.3)
        child.send_signal(signal.SIGTERM)
        line = await asyncio.wait_for(child.stdout.readline(), 5)
        assert line.strip() == f"signal {int(signal.SIGTERM)}".encode()
        await asyncio.sleep(0.2)
        refused = False
        try:
            _, w2 = await asyncio.open_connection("127.0.0.1", port)
            w2.close()
        except OSError:
            refused = True
        assert refused
        response = await read_response(reader)
        assert response.status == 200
        assert response.json() == {"finished": True}
        assert response.headers["connection"] == "close"
        assert (await asyncio.wait_for(child.stdout.readline(), 5)).strip() == b"drained"
        assert await asyncio.wait_for(child.wait(), 10) == 0
        writer.close()
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()

"""Federating homeservers for the federation benchmarks: ranvier and Synapse, each in its
own process on loopback HTTPS, named by their IP literal and port.

Theory of operation
-------------------
*ranvier* runs as ``python -m ranvier_bench.scenarios.federation_servers DIR PORT``: a
child process that builds a :class:`~ranvier.server.Homeserver` with the test-only
federation settings (``disable_tls_validation``, ``allow_loopback``), a user
``@bench:<name>`` (password ``bench-pw``) and, with ``--members M --state S``, a public
room with ``M`` joined members and ``S`` state events in all (members included) made
in-process before it listens -- so a big room costs seconds, not an hour of HTTP. It
prints one JSON line (``{"room_id": ...}``) once it serves, and stops on SIGTERM.

*Synapse* runs from its own virtualenv with a generated config changed as in the
interop tests: one TLS listener for client, federation and keys, certificate checks
off, no IP blacklist, no trusted key servers, open registration, rate limits out of
reach. Its rooms are made over the Client-Server API (:func:`populate_over_http`).

:class:`Proc` holds either; :meth:`Proc.cpu` is the CPU seconds of its process tree
(``/proc``, as the rest of the bench measures).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
import yaml

from .. import procstats

BENCH_PASSWORD = "bench-pw"


def _seg(value: str) -> str:
    return quote(value, safe="")


class Proc:
    """A homeserver process under measurement."""

    def __init__(self, kind: str, process: asyncio.subprocess.Process, port: int, log: Path):
        self.kind = kind
        self.process = process
        self.port = port
        self.name = f"127.0.0.1:{port}"
        self.base = f"https://127.0.0.1:{port}"
        self.log = log
        self.room_id: str | None = None

    def cpu(self) -> float:
        """CPU seconds used so far by the process tree."""
        return procstats.sample_tree(self.process.pid).cpu_seconds

    async def stop(self) -> None:
        """SIGTERM the process group, SIGKILL after 15 s."""
        if self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 15)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()


def bench_path() -> str:
    """The directory holding ``ranvier_bench`` (for the child's PYTHONPATH)."""
    return str(Path(__file__).resolve().parents[2])


async def start_ranvier(directory: Path, port: int, members: int = 0, state: int = 0) -> Proc:
    """Start ranvier (see the module docstring); with ``members`` a populated room."""
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / "ranvier.log"
    env = dict(os.environ, PYTHONPATH=bench_path())
    with log.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ranvier_bench.scenarios.federation_servers",
            str(directory),
            str(port),
            "--members",
            str(members),
            "--state",
            str(state),
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
            start_new_session=True,
            env=env,
        )
    proc = Proc("ranvier", process, port, log)
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 1800)
    except TimeoutError:
        await proc.stop()
        raise
    if not line:
        raise RuntimeError(f"ranvier did not start: {log.read_text()[-2000:]}")
    proc.room_id = orjson.loads(line).get("room_id")
    return proc


async def _serve_ranvier(directory: Path, port: int, members: int, state: int) -> None:
    from ranvier.config.keyfile import generate_signing_key_file
    from ranvier.config.schema import (
        Config,
        DatabaseConfig,
        FederationApiConfig,
        GlobalConfig,
        UserApiConfig,
    )
    from ranvier.http.tls import make_self_signed
    from ranvier.server import Homeserver

    key_path = directory / "signing.key"
    if not key_path.exists():
        generate_signing_key_file(key_path)
    cert, tls_key = directory / "tls.crt", directory / "tls.key"
    make_self_signed(cert, tls_key, ("127.0.0.1",))
    name = f"127.0.0.1:{port}"
    config = Config(
        global_=GlobalConfig(
            server_name=name,
            private_key=key_path,
            database=DatabaseConfig(connection_string=f"file:{directory / 'hs.sqlite'}"),
        ),
        federation_api=FederationApiConfig(disable_tls_validation=True, allow_loopback=True),
        user_api=UserApiConfig(bcrypt_cost=4),
    )
    hs = await Homeserver.open(config)
    owner = f"@bench:{name}"
    await hs.accounts.create_account(owner, BENCH_PASSWORD)
    room_id = None
    if members:
        room_id = await hs.rooms.create_room(owner, preset="public_chat", name="big")
        for i in range(members - 1):
            user = f"@m{i}:{name}"
            await hs.accounts.create_account(user, None)
            await hs.membership.join(room_id, user)
        for i in range(max(0, state - members - 5)):
            await hs.rooms.set_state(room_id, owner, "org.ranvier.bench", f"k{i}", {"i": i})
    await hs.start(None, ("127.0.0.1", port), cert, tls_key)
    sys.stdout.write(orjson.dumps({"room_id": room_id}).decode() + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await hs.stop(1.0)


async def start_synapse(python: str, directory: Path, port: int) -> Proc:
    """Generate a config, start Synapse, wait until it answers."""
    directory.mkdir(parents=True, exist_ok=True)
    cfg_path = directory / "homeserver.yaml"
    gen = await asyncio.create_subprocess_exec(
        python,
        "-m",
        "synapse.app.homeserver",
        "--server-name",
        f"127.0.0.1:{port}",
        "--config-path",
        str(cfg_path),
        "--generate-config",
        "--report-stats=no",
        "--data-directory",
        str(directory),
        cwd=directory,
        stdout=asyncio.subprocess.DEVNULL,
    )
    await gen.wait()
    from ranvier.http.tls import make_self_signed

    cert, key = directory / "tls.crt", directory / "tls.key"
    make_self_signed(cert, key, ("127.0.0.1",))
    cfg: dict[str, Any] = yaml.safe_load(cfg_path.read_text())
    cfg["listeners"] = [
        {
            "port": port,
            "bind_addresses": ["127.0.0.1"],
            "type": "http",
            "tls": True,
            "x_forwarded": False,
            "resources": [{"names": ["client", "federation", "keys"], "compress": False}],
        }
    ]
    huge = {"per_second": 1_000_000, "burst_count": 1_000_000}
    cfg.update(
        tls_certificate_path=str(cert),
        tls_private_key_path=str(key),
        federation_verify_certificates=False,
        federation_ip_range_blacklist=[],
        ip_range_blacklist=[],
        ip_range_whitelist=["127.0.0.1"],
        trusted_key_servers=[],
        suppress_key_server_warning=True,
        enable_registration=True,
        enable_registration_without_verification=True,
        bcrypt_rounds=4,
        report_stats=False,
        rc_message=huge,
        rc_registration=huge,
        rc_login={"address": huge, "account": huge, "failed_attempts": huge},
        rc_joins={"local": huge, "remote": huge},
        rc_joins_per_room=huge,
        rc_invites={"per_room": huge, "per_user": huge, "per_issuer": huge},
        rc_federation={
            "window_size": 1000,
            "sleep_limit": 1_000_000,
            "sleep_delay": 1,
            "reject_limit": 1_000_000,
            "concurrent": 1000,
        },
    )
    cfg_path.write_text(yaml.safe_dump(cfg))
    log = directory / "stdout.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            python,
            "-m",
            "synapse.app.homeserver",
            "--config-path",
            str(cfg_path),
            cwd=directory,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    proc = Proc("synapse", process, port, log)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    async with aiohttp.ClientSession() as session:
        while loop.time() < deadline and process.returncode is None:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(proc.base + "/_matrix/key/v2/server", ssl=False) as r:
                    if r.status == 200:
                        return proc
            await asyncio.sleep(0.3)
    await proc.stop()
    raise RuntimeError(f"Synapse did not start: {log.read_text()[-2000:]}")


class Client:
    """A user of a homeserver driven over the Client-Server API."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str, user_id: str):
        self.session = session
        self.base = base
        self.token = token
        self.user_id = user_id

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        """A request; raises on a non-2xx answer."""
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.session.request(
            method, self.base + path, json=body, headers=headers, ssl=False
        ) as resp:
            data = await resp.json(content_type=None)
            if resp.status >= 300:
                raise RuntimeError(f"{method} {path} -> {resp.status}: {data}")
            return data

    async def joined_count(self, room_id: str) -> int:
        """How many members the server holds as joined."""
        got = await self.call("GET", f"/_matrix/client/v3/rooms/{_seg(room_id)}/joined_members")
        return len(got["joined"])


async def login(session: aiohttp.ClientSession, base: str, user: str, password: str) -> Client:
    """``POST /login`` with a password."""
    body = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user},
        "password": password,
    }
    async with session.post(base + "/_matrix/client/v3/login", json=body, ssl=False) as resp:
        data = await resp.json()
        if resp.status != 200:
            raise RuntimeError(f"login failed: {data}")
    return Client(session, base, data["access_token"], data["user_id"])


async def register(session: aiohttp.ClientSession, base: str, username: str) -> Client:
    """Register through the ``m.login.dummy`` flow (Synapse)."""
    url = base + "/_matrix/client/v3/register"
    body: dict[str, Any] = {"username": username, "password": BENCH_PASSWORD}
    async with session.post(url, json=body, ssl=False) as resp:
        first = await resp.json()
    if "access_token" not in first:
        body["auth"] = {"type": "m.login.dummy", "session": first["session"]}
        async with session.post(url, json=body, ssl=False) as resp:
            first = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"register failed: {first}")
    return Client(session, base, first["access_token"], first["user_id"])


async def populate_over_http(
    session: aiohttp.ClientSession, proc: Proc, members: int, state: int, concurrency: int = 8
) -> tuple[Client, str]:
    """A public room on ``proc`` with ``members`` joined users and ``state`` state
    events in all, made over the Client-Server API; ``(owner, room_id)``."""
    owner = await register(session, proc.base, "bench")
    room_id = str(
        (
            await owner.call(
                "POST", "/_matrix/client/v3/createRoom", {"preset": "public_chat", "name": "big"}
            )
        )["room_id"]
    )
    sem = asyncio.Semaphore(concurrency)

    async def member(i: int) -> None:
        async with sem:
            user = await register(session, proc.base, f"m{i}")
            await user.call("POST", f"/_matrix/client/v3/join/{_seg(room_id)}", {})

    await asyncio.gather(*(member(i) for i in range(members - 1)))

    async def put(i: int) -> None:
        async with sem:
            path = f"/_matrix/client/v3/rooms/{_seg(room_id)}/state/org.ranvier.bench/k{i}"
            await owner.call("PUT", path, {"i": i})

    await asyncio.gather(*(put(i) for i in range(max(0, state - members - 5))))
    return owner, room_id


def main() -> None:
    """Child process entry point for ranvier (see the module docstring)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("directory", type=Path)
    parser.add_argument("port", type=int)
    parser.add_argument("--members", type=int, default=0)
    parser.add_argument("--state", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_serve_ranvier(args.directory, args.port, args.members, args.state))


if __name__ == "__main__":
    main()

"""Starting and stopping the homeservers under test, with equivalent settings.

Theory of operation
-------------------
Each run gets a fresh working directory, a fresh database and a free loopback port. The
server's own tools write its configuration (Synapse: ``python -m synapse.app.homeserver
--generate-config``; ranvier: ``ranvier generate-config`` and ``ranvier generate-keys``), and the
bench then changes only what makes the two comparable:

* listen on ``127.0.0.1:<port>`` only, plain HTTP, client and federation resources on one port
  (Synapse) as ranvier serves both on its one listener;
* open registration without verification (Synapse ``enable_registration`` +
  ``enable_registration_without_verification``; ranvier ``client_api.registration_disabled:
  false``);
* rate limits off (ranvier ``client_api.rate_limiting.enabled: false``; Synapse has no switch,
  so every ``rc_*`` limiter gets a rate no bench can reach);
* the same bcrypt cost (Synapse ``bcrypt_rounds``, ranvier ``user_api.bcrypt_cost``);
* the same log level, each to its default destination (a file / stderr redirected to a file);
* nothing reaches beyond loopback (Synapse ``trusted_key_servers: []``, ``report_stats: false``);
* SQLite for both, or PostgreSQL for both (``--postgres DSN``): a database per run, created
  before the start and dropped after the stop.

The server runs in its own session (process group); :meth:`ServerProcess.stop` sends SIGTERM
to the group, waits, then SIGKILLs it. Every started group is also remembered in a module
registry that an ``atexit`` hook and the CLI's signal handlers empty, so no server survives the
bench, even on Ctrl-C or a crash.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import yaml

from . import procstats

_LIVE_GROUPS: set[int] = set()

RATE_LIMITERS = (
    "rc_message",
    "rc_registration",
    "rc_registration_token_validity",
    "rc_login.address",
    "rc_login.account",
    "rc_login.failed_attempts",
    "rc_admin_redaction",
    "rc_joins.local",
    "rc_joins.remote",
    "rc_joins_per_room",
    "rc_key_requests",
    "rc_3pid_validation",
    "rc_invites.per_room",
    "rc_invites.per_user",
    "rc_invites.per_issuer",
    "rc_third_party_invite",
    "rc_media_create",
    "rc_presence.per_user",
    "rc_delayed_event_mgmt",
    "rc_room_creation",
    "rc_reports",
    "rc_user_directory",
    "rc_profile",
)
UNREACHABLE_RATE = {"per_second": 1_000_000, "burst_count": 1_000_000}


def kill_all_servers() -> None:
    """SIGKILL every server process group still alive (atexit and signal safety net)."""
    for pgid in list(_LIVE_GROUPS):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        _LIVE_GROUPS.discard(pgid)


atexit.register(kill_all_servers)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """The settings both servers get."""

    bcrypt_cost: int = 10
    log_level: str = "INFO"
    postgres_dsn: str | None = None
    synapse_python: Path = Path("python3")
    ranvier_bin: Path = Path("ranvier")
    start_timeout: float = 120.0


@dataclass(slots=True)
class ServerProcess:
    """One started homeserver: its name, process, address and database."""

    name: str
    workdir: Path
    settings: ServerSettings
    port: int = 0
    process: asyncio.subprocess.Process | None = None
    log_path: Path | None = None
    sqlite_path: Path | None = None
    pg_database: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    started_at: float = 0.0

    @property
    def base_url(self) -> str:
        """The server's client API base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The root pid of the server's process tree."""
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    def sample(self) -> procstats.TreeSample:
        """CPU and memory of the server's process tree now."""
        return procstats.sample_tree(self.pid)

    async def start(self) -> None:
        """Prepare the config, start the server and wait until ``/versions`` answers 200."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        if self.settings.postgres_dsn:
            self.pg_database = f"bench_{self.name}_{os.getpid()}_{self.workdir.name}".lower()
            await _pg_admin(self.settings.postgres_dsn, self._create_db_sql())
        argv = await self.prepare()
        self.log_path = self.workdir / "server.out"
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,
            )
        _LIVE_GROUPS.add(self.process.pid)
        await self._wait_ready()
        self.started_at = time.monotonic()

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.settings.start_timeout
        url = self.base_url + "/_matrix/client/versions"
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.returncode is not None:
                    raise RuntimeError(
                        f"{self.name} exited with {self.process.returncode} during start:\n"
                        + self.log_tail()
                    )
                with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                    async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise RuntimeError(
            f"{self.name} did not answer within the start timeout:\n" + self.log_tail()
        )

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's output (for error messages)."""
        if self.log_path is None or not self.log_path.exists():
            return "(no output)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    async def stop(self, grace: float = 15.0) -> int | None:
        """Stop the process group (SIGTERM, then SIGKILL after ``grace`` s); drop a PG db."""
        code: int | None = None
        proc = self.process
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                code = await asyncio.wait_for(proc.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                code = await proc.wait()
            # Helpers of the server that outlived it are still in its group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            _LIVE_GROUPS.discard(proc.pid)
        if self.settings.postgres_dsn and self.pg_database:
            await _pg_admin(
                self.settings.postgres_dsn,
                f'DROP DATABASE IF EXISTS "{self.pg_database}" WITH (FORCE)',
            )
        return code

    async def db_bytes(self) -> int:
        """Bytes the server's database uses now (SQLite: used pages; PostgreSQL: db size)."""
        if self.settings.postgres_dsn and self.pg_database:
            import asyncpg

            conn = await asyncpg.connect(_dsn_with_db(self.settings.postgres_dsn, self.pg_database))
            try:
                size: int = await conn.fetchval("SELECT pg_database_size(current_database())")
            finally:
                await conn.close()
            return size
        if self.sqlite_path is None:
            raise RuntimeError(f"{self.name}: no database path known")
        return sqlite_used_bytes(self.sqlite_path)

    def _create_db_sql(self) -> str:
        return f"CREATE DATABASE \"{self.pg_database}\" TEMPLATE template0 ENCODING 'UTF8'" + (
            " LC_COLLATE 'C' LC_CTYPE 'C'" if self.name == "synapse" else ""
        )

    async def prepare(self) -> list[str]:
        """Write the server's config into ``workdir`` and return the command that runs it."""
        if self.name == "synapse":
            return await self._prepare_synapse()
        if self.name == "ranvier":
            return await self._prepare_ranvier()
        raise ValueError(f"unknown server {self.name!r}")

    async def _prepare_synapse(self) -> list[str]:
        cfg_path = self.workdir / "homeserver.yaml"
        python = str(self.settings.synapse_python)
        await _run(
            python,
            "-m",
            "synapse.app.homeserver",
            "--server-name",
            "localhost",
            "--config-path",
            str(cfg_path),
            "--generate-config",
            "--report-stats=no",
            "--data-directory",
            str(self.workdir),
            cwd=self.workdir,
        )
        cfg = yaml.safe_load(cfg_path.read_text())
        cfg["listeners"] = [
            {
                "port": self.port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client", "federation"], "compress": False}],
            }
        ]
        cfg["enable_registration"] = True
        cfg["enable_registration_without_verification"] = True
        cfg["bcrypt_rounds"] = self.settings.bcrypt_cost
        cfg["trusted_key_servers"] = []
        cfg["suppress_key_server_warning"] = True
        cfg["report_stats"] = False
        for key in RATE_LIMITERS:
            *parents, leaf = key.split(".")
            node = cfg
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = dict(UNREACHABLE_RATE)
        if self.settings.postgres_dsn and self.pg_database:
            parts = urlsplit(self.settings.postgres_dsn)
            args: dict[str, Any] = {
                "user": parts.username or "postgres",
                "database": self.pg_database,
                "host": parts.hostname or "127.0.0.1",
                "port": parts.port or 5432,
                "cp_min": 5,
                "cp_max": 10,
            }
            if parts.password:
                args["password"] = parts.password
            cfg["database"] = {"name": "psycopg2", "args": args}
        else:
            self.sqlite_path = Path(cfg["database"]["args"]["database"])
        log_cfg_path = Path(cfg["log_config"])
        log_cfg = yaml.safe_load(log_cfg_path.read_text())
        log_cfg["root"]["level"] = self.settings.log_level.upper()
        log_cfg_path.write_text(yaml.safe_dump(log_cfg))
        cfg_path.write_text(yaml.safe_dump(cfg))
        self.config = _redacted(cfg)
        return [python, "-m", "synapse.app.homeserver", "--config-path", str(cfg_path)]

    async def _prepare_ranvier(self) -> list[str]:
        binary = str(self.settings.ranvier_bin)
        cfg_path = self.workdir / "ranvier.yaml"
        key_path = self.workdir / "matrix_key.pem"
        if self.settings.postgres_dsn and self.pg_database:
            dsn = _dsn_with_db(self.settings.postgres_dsn, self.pg_database)
        else:
            self.sqlite_path = self.workdir / "ranvier.db"
            dsn = f"file:{self.sqlite_path}"
        text = await _run(
            binary, "generate-config", "--server-name", "localhost", "--database", dsn,
            cwd=self.workdir,
        )  # fmt: skip
        await _run(binary, "generate-keys", "--private-key", str(key_path), cwd=self.workdir)
        cfg = yaml.safe_load(text)
        glob = cfg.setdefault("global", {})
        glob["private_key"] = str(key_path)
        glob.setdefault("database", {})["connection_string"] = dsn
        client_api = cfg.setdefault("client_api", {})
        client_api["registration_disabled"] = False
        client_api.setdefault("rate_limiting", {})["enabled"] = False
        cfg.setdefault("user_api", {})["bcrypt_cost"] = self.settings.bcrypt_cost
        level = {"WARNING": "warn"}.get(self.settings.log_level.upper(), self.settings.log_level)
        cfg["logging"] = [{"type": "std", "level": level.lower()}]
        cfg_path.write_text(yaml.safe_dump(cfg))
        self.config = _redacted(cfg)
        return [
            binary, "run", "--config", str(cfg_path),
            "--http-bind-address", f"127.0.0.1:{self.port}",
        ]  # fmt: skip


def sqlite_used_bytes(path: Path) -> int:
    """Bytes of the pages an SQLite database uses, WAL content included, free pages excluded.

    Opened read-only, so it is safe next to the server's own connections.
    """
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    finally:
        conn.close()
    return int((pages - free) * page_size)


def _dsn_with_db(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


async def _pg_admin(dsn: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _run(*argv: str, cwd: Path) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 120)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"{' '.join(argv)} did not finish within 120 s") from None
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed ({proc.returncode}):\n{err.decode(errors='replace')}"
        )
    return out.decode()


_SECRET_KEYS = ("secret", "password", "macaroon", "form_secret")


def _redacted(cfg: Any) -> Any:
    """The config with secrets replaced, for the results file."""
    if isinstance(cfg, dict):
        return {
            k: "<redacted>" if any(s in str(k) for s in _SECRET_KEYS) else _redacted(v)
            for k, v in cfg.items()
        }
    if isinstance(cfg, list):
        return [_redacted(v) for v in cfg]
    return cfg


def remove_tree(path: Path) -> None:
    """Delete a run's working directory."""
    shutil.rmtree(path, ignore_errors=True)

"""The servers' configs as the bench writes them: equivalent settings, valid for each server.

These run the servers' own config generators (Synapse's ``--generate-config`` under
$RANVIER_SYNAPSE_PYTHON; ``ranvier generate-config``/``generate-keys``) and check that the
bench's changes land on keys each server really reads.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import yaml
from ranvier_bench.servers import RATE_LIMITERS, ServerProcess, ServerSettings, sqlite_used_bytes

from ranvier.config import load_config
from tests.conftest import need_service

RANVIER_BIN = Path(sys.executable).parent / "ranvier"


async def test_synapse_config(tmp_path: Path) -> None:
    python = need_service("RANVIER_SYNAPSE_PYTHON", "Synapse's Python")
    settings = ServerSettings(bcrypt_cost=7, log_level="WARNING", synapse_python=Path(python))
    server = ServerProcess("synapse", tmp_path, settings, port=45678)
    argv = await server.prepare()
    assert argv[1:] == [
        "-m",
        "synapse.app.homeserver",
        "--config-path",
        str(tmp_path / "homeserver.yaml"),
    ]
    cfg = yaml.safe_load((tmp_path / "homeserver.yaml").read_text())
    (listener,) = cfg["listeners"]
    assert listener["bind_addresses"] == ["127.0.0.1"]
    assert listener["port"] == 45678
    assert listener["tls"] is False
    assert cfg["enable_registration"] is True
    assert cfg["enable_registration_without_verification"] is True
    assert cfg["bcrypt_rounds"] == 7
    assert cfg["trusted_key_servers"] == []
    assert cfg["rc_message"]["per_second"] >= 1_000_000
    assert cfg["rc_login"]["failed_attempts"]["burst_count"] >= 1_000_000
    assert cfg["rc_joins"]["local"]["per_second"] >= 1_000_000
    assert len(RATE_LIMITERS) >= 20
    log_cfg = yaml.safe_load(Path(cfg["log_config"]).read_text())
    assert log_cfg["root"]["level"] == "WARNING"
    assert server.sqlite_path == Path(cfg["database"]["args"]["database"])
    # secrets do not reach the results file
    assert server.config["macaroon_secret_key"] == "<redacted>"
    assert server.config["registration_shared_secret"] == "<redacted>"


async def test_ranvier_config_loads_with_the_bench_settings(tmp_path: Path) -> None:
    settings = ServerSettings(bcrypt_cost=6, log_level="WARNING", ranvier_bin=RANVIER_BIN)
    server = ServerProcess("ranvier", tmp_path, settings, port=45679)
    argv = await server.prepare()
    assert argv[1:] == [
        "run",
        "--config",
        str(tmp_path / "ranvier.yaml"),
        "--http-bind-address",
        "127.0.0.1:45679",
    ]
    config = load_config(tmp_path / "ranvier.yaml")
    assert config.client_api.registration_disabled is False
    assert config.client_api.rate_limiting.enabled is False
    assert config.user_api.bcrypt_cost == 6
    assert [t.level for t in config.logging] == ["warn"]
    assert server.sqlite_path == tmp_path / "ranvier.db"
    assert str(server.sqlite_path) in config.database.connection_string
    assert (tmp_path / "matrix_key.pem").exists()


def test_sqlite_used_bytes_excludes_free_pages(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (v BLOB)")
    conn.executemany("INSERT INTO t VALUES (?)", [(b"x" * 4000,) for _ in range(200)])
    conn.commit()
    full = sqlite_used_bytes(path)  # read through the WAL, before any checkpoint
    assert full >= 200 * 4000
    conn.execute("DELETE FROM t")
    conn.commit()
    emptied = sqlite_used_bytes(path)
    assert emptied < full / 10  # the pages are free now, the file has not shrunk
    conn.close()

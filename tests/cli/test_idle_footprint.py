"""An idle ``ranvier run`` on SQLite loads no HTTP client and no PostgreSQL driver.

aiohttp (with multidict, yarl) and asyncpg are about 17 MiB of an idle server's
memory; they are imported on first use (an outbound request, a PostgreSQL
database). The check reads the real process's ``/proc/<pid>/maps``: their compiled
extension modules are mapped exactly when the packages were imported.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest

from tests.cli.helpers import free_port, run_server, write_config

LAZY_PACKAGES = ("/aiohttp/", "/multidict/", "/yarl/", "/asyncpg/")


def _mapped_files(pid: int) -> set[str]:
    files = set()
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) == 6:
                files.add(fields[5].strip())
    return files


def test_idle_server_has_not_loaded_client_or_postgres(tmp_path: Path) -> None:
    if not Path("/proc/self/maps").exists():
        pytest.skip("needs Linux /proc")
    config = write_config(tmp_path)
    port = free_port()
    with run_server(config, port) as server:
        server.wait_ready()
        url = f"http://127.0.0.1:{port}/_matrix/client/versions"
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.status == 200
        files = _mapped_files(server.proc.pid)
        assert any("/uvloop/" in f for f in files)  # the check sees extension modules
        loaded = sorted(f for f in files if any(p in f for p in LAZY_PACKAGES))
        assert loaded == []
        assert server.terminate() == 0

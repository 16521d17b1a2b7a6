"""``ranvier run`` as a real process: serves, drains on SIGTERM, refuses bad set-ups."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp

from tests.cli.helpers import free_port, ranvier, run_server, write_config


async def test_run_serves_versions_and_stops_on_sigterm(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    port = free_port()
    with run_server(config, port) as server:
        server.wait_ready()
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/_matrix/client/versions") as resp:
                assert resp.status == 200
                body = await resp.json()
                assert isinstance(body["versions"], list)
            async with http.get(f"http://127.0.0.1:{port}/.well-known/matrix/server") as resp:
                assert resp.status == 404  # no delegation configured
        assert server.terminate() == 0
        log = server.output()
    assert "received SIGTERM: shutting down" in log
    assert "ranvier stopped" in log
    assert (tmp_path / "ranvier.db").exists()  # migrated on start


async def test_run_https_with_self_signed_certificate(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    out = ranvier("generate-keys", "--tls-cert", str(cert), "--tls-key", str(key))
    assert out.returncode == 0, out.stderr
    port = free_port()
    with run_server(
        config, port,
        "--http-bind-address", "",
        "--https-bind-address", f"127.0.0.1:{port}",
        "--tls-cert", str(cert), "--tls-key", str(key),
    ) as server:  # fmt: skip
        server.wait_ready()
        trust = ssl.create_default_context(cafile=str(cert))
        async with aiohttp.ClientSession() as http:
            url = f"https://localhost:{port}/_matrix/client/versions"
            async with http.get(url, ssl=trust) as resp:
                assert resp.status == 200
        assert server.terminate() == 0


def test_https_without_certificate_is_a_usage_error(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    out = ranvier("run", "--config", str(config), "--https-bind-address", "127.0.0.1:0")
    assert out.returncode == 2
    assert "needs --tls-cert and --tls-key" in out.stderr


def test_bad_bind_address_is_a_usage_error(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    out = ranvier("run", "--config", str(config), "--http-bind-address", "localhost")
    assert out.returncode == 2
    assert "--http-bind-address: expected HOST:PORT" in out.stderr


def test_missing_signing_key_fails_before_starting(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    (tmp_path / "matrix_key.pem").unlink()
    out = ranvier("run", "--config", str(config), "--http-bind-address", "127.0.0.1:0")
    assert out.returncode == 1
    assert "cannot read signing key" in out.stderr
    assert "ranvier generate-keys --private-key" in out.stderr
    assert not (tmp_path / "ranvier.db").exists()

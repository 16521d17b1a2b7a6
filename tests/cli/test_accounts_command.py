"""``ranvier create-account``: the account works for logging in over HTTP."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.cli.helpers import free_port, ranvier, run_server, write_config


async def _login(port: int, user: str, password: str) -> tuple[int, dict[str, object]]:
    body = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user},
        "password": password,
    }
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{port}/_matrix/client/v3/login"
        async with http.post(url, json=body) as resp:
            return resp.status, await resp.json()


async def test_created_account_can_log_in(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, "example.org", database=database_url)
    out = ranvier(
        "create-account", "--config", str(config), "--username", "alice", "--admin",
        "--password-stdin", stdin="correct horse\n",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "created admin account @alice:example.org"
    (tmp_path / "pw").write_text("battery staple\n")
    out = ranvier(
        "create-account", "--config", str(config), "--username", "@bob:example.org",
        "--password-file", str(tmp_path / "pw"),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "created account @bob:example.org"

    port = free_port()
    with run_server(config, port) as server:
        server.wait_ready()
        status, body = await _login(port, "alice", "correct horse")
        assert status == 200, body
        assert body["user_id"] == "@alice:example.org"
        status, body = await _login(port, "bob", "battery staple")
        assert status == 200, body
        status, body = await _login(port, "alice", "wrong")
        assert status == 403 and body["errcode"] == "M_FORBIDDEN"
        assert server.terminate() == 0


def test_existing_user_is_reported(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    args = ("create-account", "--config", str(config), "--username", "carol", "--password-stdin")
    assert ranvier(*args, stdin="pw\n").returncode == 0
    again = ranvier(*args, stdin="pw\n")
    assert again.returncode == 1
    assert again.stderr.strip() == "ranvier: user @carol:localhost already exists"


def test_invalid_usernames_and_passwords(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    base = ("create-account", "--config", str(config), "--password-stdin")
    for username in ("Alice", "a b", "", "@dave:elsewhere.org", "x" * 300):
        out = ranvier(*base, "--username", username, stdin="pw\n")
        assert out.returncode == 2, username
        assert "--username" in out.stderr
    out = ranvier(*base, "--username", "erin", stdin="\n")
    assert out.returncode == 2
    assert "password is empty" in out.stderr
    # no source and no terminal: no prompt, a clear error
    out = ranvier("create-account", "--config", str(config), "--username", "erin", stdin="")
    assert out.returncode == 2
    assert "--password-stdin" in out.stderr

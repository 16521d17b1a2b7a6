"""User-interactive authentication as the spec words it, over HTTP against the whole
server: remembered request parameters, replay of a finished session (client-server-api
"User-Interactive Authentication API": "servers must return ... the result of the API
call if all stages were completed when a client retries a stage"), ``completed`` in
every answer to an auth attempt, and user ID grammar checks that cannot be fooled by a
trailing newline."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import SERVER_NAME, Client

V3 = "/_matrix/client/v3"


async def _start(client: Client, body: dict[str, Any]) -> str:
    status, first = await client.request("POST", f"{V3}/register", body)
    assert status == 401 and "completed" not in first, first
    return str(first["session"])


async def test_register_remembers_first_request_parameters(client: Client) -> None:
    session = await _start(
        client,
        {
            "username": "rita",
            "password": "s3cret",
            "device_id": "XYZZY",
            "initial_device_display_name": "Rita's phone",
        },
    )
    # No plain password is kept in the session; its hash is.
    row = await client.server.db.fetchone(
        "SELECT data FROM uia_sessions WHERE session_id = $1", session
    )
    assert row is not None and "s3cret" not in str(row[0]) and "password_hash" in str(row[0])
    # The completing request carries nothing but auth.
    status, done = await client.request(
        "POST", f"{V3}/register", {"auth": {"type": "m.login.dummy", "session": session}}
    )
    assert status == 200, done
    assert (done["user_id"], done["device_id"]) == (f"@rita:{SERVER_NAME}", "XYZZY")
    status, device = await client.request("GET", f"{V3}/devices/XYZZY", token=done["access_token"])
    assert (status, device["display_name"]) == (200, "Rita's phone")
    # The remembered password is the account's password.
    status, login = await client.request(
        "POST",
        f"{V3}/login",
        {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": "rita"},
            "password": "s3cret",
        },
    )
    assert status == 200, login


async def test_register_inhibit_login_remembered(client: Client) -> None:
    session = await _start(client, {"username": "sam", "password": "pw", "inhibit_login": True})
    status, done = await client.request(
        "POST", f"{V3}/register", {"auth": {"type": "m.login.dummy", "session": session}}
    )
    assert status == 200 and done["user_id"] == f"@sam:{SERVER_NAME}"
    assert "device_id" not in done and "access_token" not in done
    row = await client.server.db.fetchone(
        "SELECT COUNT(*) FROM devices WHERE user_id = $1", done["user_id"]
    )
    assert row is not None and int(row[0]) == 0


async def test_register_replay_without_username_is_idempotent(client: Client) -> None:
    session = await _start(client, {"password": "pw"})
    again = {"password": "pw", "auth": {"type": "m.login.dummy", "session": session}}
    status, first = await client.request("POST", f"{V3}/register", again)
    assert status == 200, first
    status, second = await client.request("POST", f"{V3}/register", again)
    assert status == 200, second
    # Same account, same device, a fresh token that replaces the first one.
    assert (second["user_id"], second["device_id"]) == (first["user_id"], first["device_id"])
    assert second["access_token"] != first["access_token"]
    status, me = await client.request("GET", f"{V3}/account/whoami", token=second["access_token"])
    assert (status, me["user_id"]) == (200, first["user_id"])
    status, _ = await client.request("GET", f"{V3}/account/whoami", token=first["access_token"])
    assert status == 401
    row = await client.server.db.fetchone("SELECT COUNT(*) FROM accounts WHERE user_id LIKE '@u%'")
    assert row is not None and int(row[0]) == 1
    status, devices = await client.request("GET", f"{V3}/devices", token=second["access_token"])
    assert status == 200 and len(devices["devices"]) == 1


async def test_register_replay_with_username_and_changed_body(client: Client) -> None:
    session = await _start(client, {"username": "tina", "password": "pw"})
    body: dict[str, Any] = {
        "username": "tina",
        "password": "pw",
        "auth": {"type": "m.login.dummy", "session": session},
    }
    status, first = await client.request("POST", f"{V3}/register", body)
    assert status == 200 and first["user_id"] == f"@tina:{SERVER_NAME}"
    # The replay ignores a different username (no M_USER_IN_USE, no second account).
    body["username"] = "uma"
    status, second = await client.request("POST", f"{V3}/register", body)
    assert (status, second["user_id"]) == (200, f"@tina:{SERVER_NAME}")
    status, avail = await client.request("GET", f"{V3}/register/available?username=uma")
    assert (status, avail) == (200, {"available": True})


async def test_uia_failure_lists_completed(client: Client) -> None:
    reg = await client.register("vera", "right")
    status, body = await client.request(
        "POST",
        f"{V3}/account/deactivate",
        {
            "auth": {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": reg["user_id"]},
                "password": "wrong",
            }
        },
        token=reg["access_token"],
    )
    assert status == 401
    assert body["errcode"] == "M_FORBIDDEN" and body["completed"] == []
    assert body["flows"] == [{"stages": ["m.login.password"]}] and "session" in body
    status, _ = await client.request("GET", f"{V3}/account/whoami", token=reg["access_token"])
    assert status == 200


async def test_password_change_params_remembered_and_hashed(client: Client) -> None:
    reg = await client.register("wendy", "old")
    t = reg["access_token"]
    status, first = await client.request(
        "POST", f"{V3}/account/password", {"new_password": "n3w"}, token=t
    )
    assert status == 401
    row = await client.server.db.fetchone(
        "SELECT data FROM uia_sessions WHERE session_id = $1", first["session"]
    )
    assert row is not None and "n3w" not in str(row[0])
    auth = {
        "type": "m.login.password",
        "user": "wendy",
        "password": "old",
        "session": first["session"],
    }
    status, body = await client.request("POST", f"{V3}/account/password", {"auth": auth}, token=t)
    assert (status, body) == (200, {})
    login = {"type": "m.login.password", "user": "wendy"}
    status, _ = await client.request("POST", f"{V3}/login", {**login, "password": "old"})
    assert status == 403
    status, _ = await client.request("POST", f"{V3}/login", {**login, "password": "n3w"})
    assert status == 200


async def test_user_ids_with_trailing_newline_are_refused(client: Client) -> None:
    for bad in ("nina\n", "nina\n\n", "\nnina"):
        status, body = await client.request("POST", f"{V3}/register", {"username": bad})
        assert (status, body.get("errcode")) == (400, "M_INVALID_USERNAME"), bad
        status, body = await client.request(
            "GET", f"{V3}/register/available?username={bad.replace(chr(10), '%0A')}"
        )
        assert (status, body.get("errcode")) == (400, "M_INVALID_USERNAME"), bad
    reg = await client.register("nina")
    status, body = await client.request(
        "PUT",
        f"{V3}/profile/{reg['user_id']}/avatar_url",
        {"avatar_url": "mxc://example.org/abc\n"},
        token=reg["access_token"],
    )
    assert (status, body.get("errcode")) == (400, "M_INVALID_PARAM")

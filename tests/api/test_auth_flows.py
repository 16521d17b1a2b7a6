"""Registration, login, tokens, refresh, logout, password, deactivation, rate limits
and shared-secret registration, over HTTP against the whole server."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from ranvier.api.synapse_admin import registration_mac
from ranvier.config.schema import RateLimitConfig
from ranvier.http.tls import make_self_signed
from tests.api.conftest import SERVER_NAME, SHARED_SECRET, Client, ClientFactory

V3 = "/_matrix/client/v3"


async def test_register_validation_before_uia(client: Client) -> None:
    status, body = await client.request("POST", f"{V3}/register", raw=b"{not json")
    assert (status, body["errcode"]) == (400, "M_NOT_JSON")
    status, body = await client.request("POST", f"{V3}/register", [1, 2])
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = await client.request("POST", f"{V3}/register", {"username": 5})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    for bad in ("has space", "ünïcode", "", "12345", "a:b"):
        status, body = await client.request("POST", f"{V3}/register", {"username": bad})
        assert (status, body["errcode"]) == (400, "M_INVALID_USERNAME"), bad
    # Upper case maps onto the lower-case grammar.
    done = await client.register("Dave")
    assert done["user_id"] == f"@dave:{SERVER_NAME}"
    # Taken names fail before UIA starts (no session in the answer).
    status, body = await client.request("POST", f"{V3}/register", {"username": "dave"})
    assert (status, body["errcode"]) == (400, "M_USER_IN_USE") and "session" not in body
    status, body = await client.request("GET", f"{V3}/register/available?username=DAVE")
    assert (status, body["errcode"]) == (400, "M_USER_IN_USE")
    status, body = await client.request("GET", f"{V3}/register/available?username=erin")
    assert (status, body) == (200, {"available": True})
    status, body = await client.request("GET", f"{V3}/register/available")
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")


async def test_register_uia_session_replay_and_options(client: Client) -> None:
    status, first = await client.request("POST", f"{V3}/register", {"username": "frank"})
    assert status == 401 and first["flows"] == [{"stages": ["m.login.dummy"]}]
    body = {
        "username": "frank",
        "password": "pw",
        "inhibit_login": True,
        "auth": {"type": "m.login.dummy", "session": first["session"]},
    }
    status, done = await client.request("POST", f"{V3}/register", body)
    assert status == 200 and done["user_id"] == f"@frank:{SERVER_NAME}"
    assert "access_token" not in done and "device_id" not in done
    # The finished session cannot register anyone else: presented again it returns
    # the result of the original call (the spec's UIA rule for retried stages).
    body["username"] = "grace"
    status, again = await client.request("POST", f"{V3}/register", body)
    assert (status, again) == (200, done)
    status, taken = await client.request("GET", f"{V3}/register/available?username=grace")
    assert (status, taken) == (200, {"available": True})
    # Client-chosen device ID, display name and refresh tokens.
    reg = await client.register(
        "heidi", device_id="MYDEVICE", initial_device_display_name="Heidi's", refresh_token=True
    )
    assert reg["device_id"] == "MYDEVICE" and "refresh_token" in reg and reg["expires_in_ms"] > 0
    status, dev = await client.request("GET", f"{V3}/devices/MYDEVICE", token=reg["access_token"])
    assert status == 200 and dev["display_name"] == "Heidi's" and dev["last_seen_ip"]


async def test_registration_disabled_and_guests(start_server: ClientFactory) -> None:
    closed = await start_server(registration_disabled=True, guests_disabled=True)
    status, body = await closed.request("POST", f"{V3}/register", {"username": "x"})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = await closed.request("POST", f"{V3}/register?kind=guest", {})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")

    open_ = await start_server()
    status, guest = await open_.request(
        "POST", f"{V3}/register?kind=guest", {"username": "ignored", "password": "x"}
    )
    assert status == 200 and guest["user_id"][1:].split(":")[0].isdigit()
    status, me = await open_.request("GET", f"{V3}/account/whoami", token=guest["access_token"])
    assert status == 200 and me["is_guest"] is True
    status, body = await open_.request(
        "POST", f"{V3}/account/password", {"new_password": "x"}, token=guest["access_token"]
    )
    assert (status, body["errcode"]) == (403, "M_GUEST_ACCESS_FORBIDDEN")


async def test_registration_tokens(start_server: ClientFactory) -> None:
    c = await start_server(registration_requires_token=True, registration_tokens=("letmein",))
    status, body = await c.request(
        "GET", "/_matrix/client/v1/register/m.login.registration_token/validity?token=letmein"
    )
    assert (status, body) == (200, {"valid": True})
    status, body = await c.request(
        "GET", "/_matrix/client/v1/register/m.login.registration_token/validity?token=nope"
    )
    assert (status, body) == (200, {"valid": False})
    status, first = await c.request("POST", f"{V3}/register", {"username": "ivan"})
    assert first["flows"] == [{"stages": ["m.login.registration_token"]}]
    req = {"username": "ivan", "password": "pw"}
    req["auth"] = {"type": "m.login.dummy", "session": first["session"]}  # type: ignore[assignment]
    status, body = await c.request("POST", f"{V3}/register", req)
    assert status == 401 and body["errcode"] in ("M_UNRECOGNIZED", "M_FORBIDDEN")
    req["auth"] = {
        "type": "m.login.registration_token",
        "token": "bad",
        "session": first["session"],
    }  # type: ignore[assignment]
    status, body = await c.request("POST", f"{V3}/register", req)
    assert (status, body["errcode"]) == (401, "M_FORBIDDEN")
    req["auth"] = {
        "type": "m.login.registration_token",
        "token": "letmein",
        "session": first["session"],
    }  # type: ignore[assignment]
    status, body = await c.request("POST", f"{V3}/register", req)
    assert status == 200 and body["user_id"] == f"@ivan:{SERVER_NAME}"


@contextlib.asynccontextmanager
async def _siteverify(
    seen: list[dict[str, str]], ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[str]:
    """A real captcha verification endpoint on loopback (HTTPS with ``ssl_context``);
    "good-answer" passes."""

    async def siteverify(request: web.Request) -> web.Response:
        form = dict(await request.post())
        seen.append({k: str(v) for k, v in form.items()})
        return web.json_response({"success": form.get("response") == "good-answer"})

    app = web.Application()
    app.router.add_post("/siteverify", siteverify)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    scheme = "http" if ssl_context is None else "https"
    try:
        yield f"{scheme}://127.0.0.1:{port}/siteverify"
    finally:
        await runner.cleanup()


async def test_recaptcha_verified_over_http(start_server: ClientFactory) -> None:
    seen: list[dict[str, str]] = []
    async with _siteverify(seen) as url:
        c = await start_server(
            enable_registration_captcha=True,
            recaptcha_public_key="pub",
            recaptcha_private_key="priv",
            recaptcha_siteverify_api=url,
        )
        status, first = await c.request("POST", f"{V3}/register", {"username": "judy"})
        assert first["flows"] == [{"stages": ["m.login.recaptcha"]}]
        assert first["params"] == {"m.login.recaptcha": {"public_key": "pub"}}
        req: dict[str, Any] = {"username": "judy", "password": "pw"}
        req["auth"] = {"type": "m.login.recaptcha", "response": "bad", "session": first["session"]}
        status, body = await c.request("POST", f"{V3}/register", req)
        assert (status, body["errcode"]) == (401, "M_CAPTCHA_INVALID")
        req["auth"]["response"] = "good-answer"
        status, body = await c.request("POST", f"{V3}/register", req)
        assert status == 200, body
        assert seen[-1] == {"secret": "priv", "response": "good-answer", "remoteip": "127.0.0.1"}


async def test_optional_captcha_is_checked_then_needs_dummy(start_server: ClientFactory) -> None:
    """A captcha configured but not required: the plain flow stays open, and a client
    that solves the captcha anyway gets it verified and listed as completed."""
    seen: list[dict[str, str]] = []
    async with _siteverify(seen) as url:
        c = await start_server(
            recaptcha_public_key="pub",
            recaptcha_private_key="priv",
            recaptcha_siteverify_api=url,
        )
        status, first = await c.request("POST", f"{V3}/register", {"username": "otto"})
        assert status == 401
        assert first["flows"] == [
            {"stages": ["m.login.dummy"]},
            {"stages": ["m.login.recaptcha", "m.login.dummy"]},
        ]
        req: dict[str, Any] = {"username": "otto", "password": "pw"}
        req["auth"] = {"type": "m.login.recaptcha", "response": "bad"}
        status, body = await c.request("POST", f"{V3}/register", req)
        assert (status, body["errcode"]) == (401, "M_CAPTCHA_INVALID")
        req["auth"] = {"type": "m.login.recaptcha", "response": "good-answer"}
        status, body = await c.request("POST", f"{V3}/register", req)
        assert status == 401 and body["completed"] == ["m.login.recaptcha"], body
        req["auth"] = {"type": "m.login.dummy", "session": body["session"]}
        status, body = await c.request("POST", f"{V3}/register", req)
        assert status == 200 and body["user_id"].startswith("@otto:"), body
        status, body = await c.request(
            "POST",
            f"{V3}/register",
            {"username": "pia", "password": "pw", "auth": {"type": "m.login.dummy"}},
        )
        assert status == 200, body
        assert len(seen) == 2


async def test_captcha_over_self_signed_tls_only_when_allowed(
    start_server: ClientFactory, tmp_path: Path
) -> None:
    """Certificates are checked unless ``recaptcha_disable_tls_validation`` is set."""
    make_self_signed(tmp_path / "c.pem", tmp_path / "k.pem", ("127.0.0.1",))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    seen: list[dict[str, str]] = []
    async with _siteverify(seen, context) as url:
        for insecure, expected in ((False, (401, "M_CAPTCHA_INVALID")), (True, (200, None))):
            c = await start_server(
                enable_registration_captcha=True,
                recaptcha_public_key="pub",
                recaptcha_private_key="priv",
                recaptcha_siteverify_api=url,
                recaptcha_disable_tls_validation=insecure,
            )
            auth = {"type": "m.login.recaptcha", "response": "good-answer"}
            status, body = await c.request(
                "POST",
                f"{V3}/register",
                {"username": f"tls{insecure}", "password": "pw", "auth": auth},
            )
            assert (status, body.get("errcode")) == expected, body
    assert len(seen) == 1  # the verified connection never reached the handler


async def test_login_variants_and_errors(client: Client) -> None:
    await client.register("kate", "pa55word")
    status, flows = await client.request("GET", f"{V3}/login")
    assert status == 200 and {"type": "m.login.password"} in flows["flows"]
    ok_bodies = [
        {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "kate"}},
        {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": f"@kate:{SERVER_NAME}"},
        },
        {"type": "m.login.password", "user": "kate"},
        {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "KATE"}},
    ]
    for body in ok_bodies:
        status, out = await client.request("POST", f"{V3}/login", {**body, "password": "pa55word"})
        assert status == 200, (body, out)
        assert out["user_id"] == f"@kate:{SERVER_NAME}"
        assert out["well_known"] == {"m.homeserver": {"base_url": "https://matrix.test.local"}}
    wrong = await client.request(
        "POST", f"{V3}/login", {"type": "m.login.password", "user": "kate", "password": "no"}
    )
    unknown = await client.request(
        "POST", f"{V3}/login", {"type": "m.login.password", "user": "nobody", "password": "no"}
    )
    assert (
        wrong
        == unknown
        == (403, {"errcode": "M_FORBIDDEN", "error": "Invalid username or password"})
    )
    status, body = await client.request(
        "POST", f"{V3}/login", {"type": "m.login.password", "user": "kate"}
    )
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    status, body = await client.request("POST", f"{V3}/login", {"type": "m.login.magic"})
    assert (status, body["errcode"]) == (400, "M_UNKNOWN")
    status, body = await client.request("POST", f"{V3}/login", {"password": "x"})
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    status, body = await client.request(
        "POST", f"{V3}/login", {"type": "m.login.password", "user": ["kate"], "password": "x"}
    )
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await client.request("POST", f"{V3}/login", raw=b"\xff\xfe")
    assert (status, body["errcode"]) == (400, "M_NOT_JSON")


async def test_token_errors_query_param_and_logout_invalidation(client: Client) -> None:
    reg = await client.register("leo")
    token = reg["access_token"]
    status, body = await client.request("GET", f"{V3}/account/whoami")
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")
    status, body = await client.request("GET", f"{V3}/account/whoami", token="rv_forged")
    assert (status, body["errcode"], body["soft_logout"]) == (401, "M_UNKNOWN_TOKEN", False)
    status, body = await client.request("GET", f"{V3}/account/whoami?access_token={token}")
    assert status == 200 and body["user_id"] == reg["user_id"]
    # Warm the cache, log out, and the same token fails on the very next request.
    hits_before = client.server.tokens.cache_hits
    for _ in range(3):
        assert (await client.request("GET", f"{V3}/account/whoami", token=token))[0] == 200
    assert client.server.tokens.cache_hits >= hits_before + 3
    status, _ = await client.request("POST", f"{V3}/logout", {}, token=token)
    assert status == 200
    status, body = await client.request("GET", f"{V3}/account/whoami", token=token)
    assert (status, body["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    # logout/all kills every session.
    status, a = await client.request(
        "POST", f"{V3}/login", {"type": "m.login.password", "user": "leo", "password": "pw"}
    )
    status, b = await client.request(
        "POST", f"{V3}/login", {"type": "m.login.password", "user": "leo", "password": "pw"}
    )
    assert (await client.request("POST", f"{V3}/logout/all", {}, token=a["access_token"]))[0] == 200
    for t in (a["access_token"], b["access_token"]):
        assert (await client.request("GET", f"{V3}/account/whoami", token=t))[0] == 401
    status, devices = await client.request(
        "POST", f"{V3}/login", {"type": "m.login.password", "user": "leo", "password": "pw"}
    )
    status, listing = await client.request("GET", f"{V3}/devices", token=devices["access_token"])
    assert [d["device_id"] for d in listing["devices"]] == [devices["device_id"]]


async def test_refresh_and_soft_logout(start_server: ClientFactory) -> None:
    c = await start_server(lifetime_ms=400)
    await c.register("mia")
    status, login = await c.request(
        "POST",
        f"{V3}/login",
        {"type": "m.login.password", "user": "mia", "password": "pw", "refresh_token": True},
    )
    assert (
        status == 200
        and login["expires_in_ms"] == 400
        and login["refresh_token"].startswith("rvr_")
    )
    assert (await c.request("GET", f"{V3}/account/whoami", token=login["access_token"]))[0] == 200
    await asyncio.sleep(0.5)
    status, body = await c.request("GET", f"{V3}/account/whoami", token=login["access_token"])
    assert (status, body["errcode"], body["soft_logout"]) == (401, "M_UNKNOWN_TOKEN", True)
    status, fresh = await c.request(
        "POST", f"{V3}/refresh", {"refresh_token": login["refresh_token"]}
    )
    assert status == 200 and fresh["expires_in_ms"] == 400
    status, me = await c.request("GET", f"{V3}/account/whoami", token=fresh["access_token"])
    assert status == 200 and me["device_id"] == login["device_id"]
    # Using the new pair revoked the old refresh token.
    status, body = await c.request(
        "POST", f"{V3}/refresh", {"refresh_token": login["refresh_token"]}
    )
    assert (status, body["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    status, body = await c.request("POST", f"{V3}/refresh", {})
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    # Clients that did not ask for refresh tokens get non-expiring ones.
    status, plain = await c.request(
        "POST", f"{V3}/login", {"type": "m.login.password", "user": "mia", "password": "pw"}
    )
    assert "expires_in_ms" not in plain and "refresh_token" not in plain


async def test_password_change_and_deactivation(client: Client) -> None:
    reg = await client.register("nina", "old-pass")
    token = reg["access_token"]
    status, other = await client.request(
        "POST", f"{V3}/login", {"type": "m.login.password", "user": "nina", "password": "old-pass"}
    )
    status, first = await client.request(
        "POST", f"{V3}/account/password", {"new_password": "new-pass"}, token=token
    )
    assert status == 401 and first["flows"] == [{"stages": ["m.login.password"]}]
    auth = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": "nina"},
        "password": "wrong",
        "session": first["session"],
    }
    status, body = await client.request(
        "POST", f"{V3}/account/password", {"new_password": "new-pass", "auth": auth}, token=token
    )
    assert (status, body["errcode"]) == (401, "M_FORBIDDEN") and body["session"] == first["session"]
    auth["password"] = "old-pass"
    status, body = await client.request(
        "POST", f"{V3}/account/password", {"new_password": "new-pass", "auth": auth}, token=token
    )
    assert status == 200, body
    assert (await client.request("GET", f"{V3}/account/whoami", token=token))[0] == 200
    assert (await client.request("GET", f"{V3}/account/whoami", token=other["access_token"]))[
        0
    ] == 401
    login = {"type": "m.login.password", "user": "nina"}
    assert (await client.request("POST", f"{V3}/login", {**login, "password": "old-pass"}))[
        0
    ] == 403
    assert (await client.request("POST", f"{V3}/login", {**login, "password": "new-pass"}))[
        0
    ] == 200

    await client.request(
        "PUT", f"{V3}/profile/@nina:{SERVER_NAME}/displayname", {"displayname": "N"}, token=token
    )
    status, first = await client.request("POST", f"{V3}/account/deactivate", {}, token=token)
    assert status == 401
    auth = {
        "type": "m.login.password",
        "user": "nina",
        "password": "new-pass",
        "session": first["session"],
    }
    status, body = await client.request(
        "POST", f"{V3}/account/deactivate", {"erase": True, "auth": auth}, token=token
    )
    assert status == 200 and body == {"id_server_unbind_result": "success"}
    assert (await client.request("GET", f"{V3}/account/whoami", token=token))[0] == 401
    status, body = await client.request("POST", f"{V3}/login", {**login, "password": "new-pass"})
    assert (status, body["errcode"]) == (403, "M_USER_DEACTIVATED")
    status, body = await client.request("GET", f"{V3}/profile/@nina:{SERVER_NAME}")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await client.request("POST", f"{V3}/register", {"username": "nina"})
    assert (status, body["errcode"]) == (400, "M_USER_IN_USE")


async def test_rate_limit_refuses_then_others_still_served(start_server: ClientFactory) -> None:
    c = await start_server(
        rate_limiting=RateLimitConfig(enabled=True, threshold=3, cooloff_ms=60_000)
    )
    reg = await c.register("oscar")  # one action from 127.0.0.1 (plus its first 401)
    bad = {"type": "m.login.password", "user": "oscar", "password": "wrong"}
    statuses = []
    last: Any = None
    for _ in range(3):
        status, last = await c.request("POST", f"{V3}/login", bad)
        statuses.append(status)
    assert statuses[-1] == 429 and last["errcode"] == "M_LIMIT_EXCEEDED"
    assert last["retry_after_ms"] > 0
    async with c.session.post(c.base + f"{V3}/login", json=bad) as resp:
        assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
    # Authenticated, unlimited endpoints keep working for everyone.
    status, me = await c.request("GET", f"{V3}/account/whoami", token=reg["access_token"])
    assert status == 200 and me["user_id"] == f"@oscar:{SERVER_NAME}"


async def test_shared_secret_registration(start_server: ClientFactory) -> None:
    c = await start_server()
    path = "/_synapse/admin/v1/register"
    status, got = await c.request("GET", path)
    nonce = got["nonce"]
    body = {
        "nonce": nonce,
        "username": "root",
        "password": "rootpw",
        "admin": True,
        "displayname": "The Admin",
        "mac": registration_mac(SHARED_SECRET, nonce, "root", "rootpw", True, None),
    }
    status, done = await c.request("POST", path, body)
    assert status == 200 and done["user_id"] == f"@root:{SERVER_NAME}"
    status, again = await c.request("POST", path, body)
    assert (status, again["errcode"]) == (400, "M_UNKNOWN")  # nonce spent
    status, got = await c.request("GET", path)
    wrong = {**body, "nonce": got["nonce"], "username": "root2"}
    status, err = await c.request("POST", path, wrong)
    assert (status, err["errcode"]) == (403, "M_FORBIDDEN")
    status, profile = await c.request("GET", f"{V3}/profile/@root:{SERVER_NAME}")
    assert profile == {"displayname": "The Admin"}

    # Admins may ask whois about anyone; others only about themselves.
    user = await c.register("plain")
    status, who = await c.request(
        "GET", f"{V3}/admin/whois/{user['user_id']}", token=done["access_token"]
    )
    assert status == 200 and list(who["devices"]) == [user["device_id"]]
    conn = who["devices"][user["device_id"]]["sessions"][0]["connections"][0]
    assert conn["ip"] == "127.0.0.1" and conn["last_seen"] > 0
    status, err = await c.request(
        "GET", f"{V3}/admin/whois/{done['user_id']}", token=user["access_token"]
    )
    assert (status, err["errcode"]) == (403, "M_FORBIDDEN")

    off = await start_server(registration_shared_secret="")
    status, err = await off.request("GET", path)
    assert status == 400 and "not enabled" in err["error"]


async def test_login_token_single_use(client: Client) -> None:
    reg = await client.register("quinn", "pw")
    token = reg["access_token"]
    path = "/_matrix/client/v1/login/get_token"
    status, first = await client.request("POST", path, {}, token=token)
    assert status == 401
    auth = {
        "type": "m.login.password",
        "user": "quinn",
        "password": "pw",
        "session": first["session"],
    }
    status, got = await client.request("POST", path, {"auth": auth}, token=token)
    assert status == 200 and got["expires_in_ms"] > 0
    login = {"type": "m.login.token", "token": got["login_token"]}
    status, out = await client.request("POST", f"{V3}/login", login)
    assert status == 200 and out["user_id"] == reg["user_id"]
    status, err = await client.request("POST", f"{V3}/login", login)
    assert (status, err["errcode"]) == (403, "M_FORBIDDEN")

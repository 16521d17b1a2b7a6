"""Single sign-on through CAS, over HTTP: a real CAS 2.0 validation endpoint (aiohttp)
answers the server's ``proxyValidate`` calls; the whole server runs on a real port.

Covers login (client-server-api "Client login via SSO": redirect, callback, login
token, ``m.login.token`` login, new users registered), SSO during user-interactive
authentication (fallback page, out-of-band stage, the same user required), and the
pure helpers (appendices "Mapping from other character sets")."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from aiohttp import web

from ranvier.api.client.sso import with_login_token
from ranvier.config.schema import CasConfig
from ranvier.users.cas import CasError, map_username_to_localpart, parse_service_response
from tests.api.conftest import SERVER_NAME, Client, ClientFactory

V3 = "/_matrix/client/v3"
PUBLIC = "https://hs.example.test"
REDIRECT = "https://client.example?p=http%3A%2F%2Fserver"


def _success(user: str) -> str:
    return (
        "<cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas'>"
        f"<cas:authenticationSuccess><cas:user>{user}</cas:user>"
        "<cas:attributes></cas:attributes></cas:authenticationSuccess></cas:serviceResponse>"
    )


@dataclass
class FakeCas:
    """A CAS server's validation endpoint: answers each ticket with ``users[ticket]``."""

    base: str = ""
    users: dict[str, str] = field(default_factory=dict)
    seen: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
async def cas() -> AsyncIterator[FakeCas]:
    state = FakeCas()

    async def validate(request: web.Request) -> web.Response:
        query = {k: v for k, v in request.query.items()}
        state.seen.append(query)
        user = state.users.get(query.get("ticket", ""))
        if user is None:
            body = (
                "<cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas'>"
                "<cas:authenticationFailure code='INVALID_TICKET'>no</cas:authenticationFailure>"
                "</cas:serviceResponse>"
            )
        else:
            body = _success(user)
        return web.Response(text=body, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/cas/proxyValidate", validate)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.base = f"http://127.0.0.1:{port}/cas"
    yield state
    await runner.cleanup()


async def _server(start_server: ClientFactory, cas: FakeCas) -> Client:
    client: Client = await start_server(
        cas=CasConfig(server_url=cas.base, display_name="Corp SSO"), public_base_url=PUBLIC
    )
    return client


async def _get(client: Client, path_and_query: str) -> tuple[int, str, dict[str, str]]:
    async with client.session.get(client.base + path_and_query, allow_redirects=False) as r:
        return r.status, await r.text(), dict(r.headers)


def _local(url: str) -> str:
    """The path and query of a URL under PUBLIC (what the browser would fetch)."""
    assert url.startswith(PUBLIC), url
    return url[len(PUBLIC) :]


async def _sso_login_token(client: Client, cas: FakeCas, ticket: str, user: str) -> str:
    cas.users[ticket] = user
    status, _, headers = await _get(
        client, f"{V3}/login/sso/redirect?redirectUrl={quote(REDIRECT, safe='')}"
    )
    assert status == 302
    location = headers["Location"]
    assert location.startswith(f"{cas.base}/login?service=")
    service = parse_qs(urlsplit(location).query)["service"][0]
    assert service == (
        f"{PUBLIC}/_matrix/client/r0/login/cas/ticket?redirectUrl={quote(REDIRECT, safe='')}"
    )
    status, page, headers = await _get(client, _local(service) + f"&ticket={ticket}")
    assert status == 200, page
    assert headers["Content-Type"].startswith("text/html")
    # CAS was asked about exactly this ticket for exactly this service.
    assert cas.seen[-1] == {"ticket": ticket, "service": service}
    match = re.search(r'href="([^"]+)"', page)
    assert match is not None
    target = match.group(1).replace("&amp;", "&")
    assert target.startswith(REDIRECT + "&loginToken=")
    return target.rsplit("loginToken=", 1)[1]


async def test_login_flows_list_sso_only_when_configured(
    start_server: ClientFactory, cas: FakeCas
) -> None:
    plain = await start_server()
    status, body = await plain.request("GET", f"{V3}/login")
    assert status == 200 and {f["type"] for f in body["flows"]} == {
        "m.login.password",
        "m.login.token",
    }
    status, _, _ = await _get(plain, f"{V3}/login/sso/redirect?redirectUrl=x")
    assert status == 404
    client = await _server(start_server, cas)
    status, body = await client.request("GET", f"{V3}/login")
    flows = {f["type"]: f for f in body["flows"]}
    assert flows["m.login.sso"]["identity_providers"] == [{"id": "cas", "name": "Corp SSO"}]
    assert "m.login.cas" in flows


async def test_sso_login_registers_new_user_and_token_is_single_use(
    start_server: ClientFactory, cas: FakeCas
) -> None:
    client = await _server(start_server, cas)
    token = await _sso_login_token(client, cas, "ST-1", "Cas_User!")
    status, body = await client.request(
        "POST", f"{V3}/login", {"type": "m.login.token", "token": token, "device_id": "SSODEV"}
    )
    assert status == 200, body
    assert body["user_id"] == f"@cas_user=21:{SERVER_NAME}" and body["device_id"] == "SSODEV"
    status, again = await client.request(
        "POST", f"{V3}/login", {"type": "m.login.token", "token": token}
    )
    assert (status, again["errcode"]) == (403, "M_FORBIDDEN")
    # A second SSO login reaches the same account.
    token2 = await _sso_login_token(client, cas, "ST-2", "cas_user!")
    status, body2 = await client.request(
        "POST", f"{V3}/login", {"type": "m.login.token", "token": token2}
    )
    assert (status, body2["user_id"]) == (200, body["user_id"])


async def test_refused_ticket_and_missing_parameters(
    start_server: ClientFactory, cas: FakeCas
) -> None:
    client = await _server(start_server, cas)
    status, page, _ = await _get(
        client, "/_matrix/client/r0/login/cas/ticket?redirectUrl=x&ticket=forged"
    )
    assert status == 403 and "loginToken" not in page
    status, _, _ = await _get(client, f"{V3}/login/sso/redirect")
    assert status == 400
    status, _, _ = await _get(client, f"{V3}/login/sso/redirect/other?redirectUrl=x")
    assert status == 404
    status, _, headers = await _get(client, f"{V3}/login/sso/redirect/cas?redirectUrl=x")
    assert status == 302 and headers["Location"].startswith(cas.base + "/login?")


async def test_uia_with_sso_requires_the_same_user(
    start_server: ClientFactory, cas: FakeCas
) -> None:
    client = await _server(start_server, cas)
    alice = await client.register("alice", "pw")
    t = alice["access_token"]
    for ticket, cas_user, expected in (("ST-A", "mallory", 403), ("ST-B", "ALICE", 200)):
        status, first = await client.request(
            "POST", f"{V3}/delete_devices", {"devices": ["X"]}, token=t
        )
        assert status == 401 and {"stages": ["m.login.sso"]} in first["flows"]
        session = first["session"]
        status, page, _ = await _get(
            client, f"{V3}/auth/m.login.sso/fallback/web?session={session}"
        )
        assert status == 200 and "/_matrix/client/v3/delete_devices" in page
        login = re.search(r"href='([^']+)'", page)
        assert login is not None
        service = parse_qs(urlsplit(login.group(1).replace("&amp;", "&")).query)["service"][0]
        assert service == f"{PUBLIC}/_matrix/client/r0/login/cas/ticket?session={session}"
        cas.users[ticket] = cas_user
        status, page, _ = await _get(client, _local(service) + f"&ticket={ticket}")
        assert (
            status == 200 and "window.onAuthDone" in page and 'postMessage("authDone", "*")' in page
        )
        status, body = await client.request(
            "POST", f"{V3}/delete_devices", {"auth": {"session": session}}, token=t
        )
        assert status == expected, body
    # Submitting the stage through the API instead of the browser only gives a hint.
    status, first = await client.request("DELETE", f"{V3}/devices/X", {}, token=t)
    status, body = await client.request(
        "DELETE",
        f"{V3}/devices/X",
        {"auth": {"type": "m.login.sso", "session": first["session"]}},
        token=t,
    )
    assert status == 401 and "fallback" in body["error"]


def test_localpart_mapping_follows_the_appendix() -> None:
    assert map_username_to_localpart("cas_user!") == "cas_user=21"
    assert map_username_to_localpart("Bob") == "bob"
    assert map_username_to_localpart("a=b") == "a=3db"
    assert map_username_to_localpart("á#") == "=c3=a1=23"
    assert map_username_to_localpart("x:y\n") == "x=3ay=0a"


def test_login_token_replaces_existing_one() -> None:
    assert (
        with_login_token("https://c/?a=1&loginToken=old", "new") == "https://c/?a=1&loginToken=new"
    )
    assert with_login_token("https://c/cb", "t") == "https://c/cb?loginToken=t"
    assert (
        with_login_token("https://c/cb?x=%2F#frag", "t") == "https://c/cb?x=%2F&loginToken=t#frag"
    )


def test_service_response_parsing() -> None:
    assert parse_service_response(_success(" bob ")) == "bob"
    with pytest.raises(CasError):
        parse_service_response("<not xml")
    with pytest.raises(CasError):
        parse_service_response(
            "<cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas'>"
            "<cas:authenticationFailure code='INVALID_TICKET'/></cas:serviceResponse>"
        )

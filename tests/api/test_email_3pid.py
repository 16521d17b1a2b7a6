"""Email addresses validated by this server's own mail, over HTTP: a real SMTP
conversation with a small SMTP server in the test (it stores what it receives), the
whole homeserver on a real port. Registration with ``m.login.email.identity``,
adding/listing/removing addresses, login with a 3PID identifier, password reset, and
the ``requestToken`` rules (client-server-api "Adding Account Administrative Contact
Information", registration.yaml, password_management.yaml)."""

from __future__ import annotations

import asyncio
import email
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ranvier.config.schema import EmailConfig
from tests.api.conftest import SERVER_NAME, Client, ClientFactory

V3 = "/_matrix/client/v3"
PUBLIC = "https://hs.example.test"


@dataclass
class Smtp:
    """A minimal SMTP server (RFC 5321 commands a sender needs, no extensions)."""

    port: int = 0
    refuse_quit: bool = False
    messages: list[tuple[list[str], Message]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 test.smtp ESMTP\r\n")
        rcpt: list[str] = []
        while line := await reader.readline():
            cmd = line.decode().strip()
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                writer.write(b"250-test.smtp\r\n250 8BITMIME\r\n")
            elif verb == "RCPT":
                rcpt.append(cmd.split(":", 1)[1].strip().strip("<>"))
                writer.write(b"250 OK\r\n")
            elif verb == "DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                data = await reader.readuntil(b"\r\n.\r\n")
                body = data[:-5].replace(b"\r\n..", b"\r\n.")
                self.messages.append((rcpt, email.message_from_bytes(body)))
                rcpt = []
                self.arrived.set()
                writer.write(b"250 queued\r\n")
            elif verb == "QUIT":
                writer.write(b"500 what?\r\n" if self.refuse_quit else b"221 bye\r\n")
                await writer.drain()
                break
            else:  # MAIL, RSET, NOOP
                writer.write(b"250 OK\r\n")
            await writer.drain()
        writer.close()

    def link_for(self, address: str) -> str:
        """The validation link in the latest mail to ``address`` (path and query)."""
        for to, message in reversed(self.messages):
            if address in to:
                text = message.get_payload(decode=True)
                assert isinstance(text, bytes)
                match = re.search(r"(https?://\S+)", text.decode())
                assert match is not None
                url = match.group(1)
                assert url.startswith(PUBLIC), url
                return url[len(PUBLIC) :]
        raise AssertionError(f"no mail to {address}")


@pytest.fixture
async def smtp() -> AsyncIterator[Smtp]:
    state = Smtp()
    server = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    yield state
    server.close()
    await server.wait_closed()


async def _server(start_server: ClientFactory, smtp: Smtp) -> Client:
    client: Client = await start_server(
        email=EmailConfig(smtp_host="127.0.0.1", smtp_port=smtp.port, from_address="hs@x.test"),
        public_base_url=PUBLIC,
    )
    return client


async def _validate(
    client: Client, smtp: Smtp, path: str, address: str, secret: str, token: str | None = None
) -> str:
    """requestToken, then follow the mailed link; return the sid."""
    status, body = await client.request(
        "POST",
        V3 + path,
        {"client_secret": secret, "email": address, "send_attempt": 1},
        token=token,
    )
    assert status == 200, body
    assert body["submit_url"] == f"{PUBLIC}/_ranvier/client/email/submit_token"
    link = smtp.link_for(address.strip().casefold())
    async with client.session.get(client.base + link, allow_redirects=False) as r:
        assert r.status == 200, await r.text()
    return str(body["sid"])


async def test_register_with_email_then_login_with_it(
    start_server: ClientFactory, smtp: Smtp
) -> None:
    client = await _server(start_server, smtp)
    status, first = await client.request("POST", f"{V3}/register", {"username": "ella"})
    assert status == 401
    assert {"stages": ["m.login.email.identity"]} in first["flows"]
    assert {"stages": ["m.login.dummy"]} in first["flows"]
    secret = "S3cretABC"
    # Not validated yet: the stage fails and can be retried.
    status, early = await client.request(
        "POST",
        f"{V3}/register/email/requestToken",
        {"client_secret": secret, "email": "Ella@X.ORG", "send_attempt": 1},
    )
    assert status == 200
    creds = {"sid": early["sid"], "client_secret": secret}
    auth: dict[str, Any] = {
        "type": "m.login.email.identity",
        "threepid_creds": creds,
        "session": first["session"],
    }
    req = {"username": "ella", "password": "pw", "auth": auth}
    status, body = await client.request("POST", f"{V3}/register", req)
    assert (status, body["errcode"]) == (401, "M_UNAUTHORIZED")
    link = smtp.link_for("ella@x.org")
    assert smtp.messages[-1][1]["From"] == "hs@x.test"
    async with client.session.get(client.base + link) as r:
        assert r.status == 200
    status, done = await client.request("POST", f"{V3}/register", req)
    assert status == 200, done
    t = done["access_token"]
    status, listed = await client.request("GET", f"{V3}/account/3pid", token=t)
    assert status == 200 and [(x["medium"], x["address"]) for x in listed["threepids"]] == [
        ("email", "ella@x.org")
    ]
    # Log in with the address, both identifier forms, any letter case.
    for login in (
        {
            "identifier": {
                "type": "m.id.thirdparty",
                "medium": "email",
                "address": "ELLA@x.org",
            }
        },
        {"medium": "email", "address": "ella@x.org"},
    ):
        status, body = await client.request(
            "POST", f"{V3}/login", {"type": "m.login.password", "password": "pw", **login}
        )
        assert (status, body.get("user_id")) == (200, f"@ella:{SERVER_NAME}"), body
    status, body = await client.request(
        "POST",
        f"{V3}/login",
        {"type": "m.login.password", "password": "pw", "medium": "email", "address": "no@x.y"},
    )
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    # The address is taken now.
    status, body = await client.request(
        "POST",
        f"{V3}/register/email/requestToken",
        {"client_secret": "other", "email": "ella@x.org", "send_attempt": 1},
    )
    assert (status, body["errcode"]) == (400, "M_THREEPID_IN_USE")


async def test_send_attempt_and_token_checks(start_server: ClientFactory, smtp: Smtp) -> None:
    client = await _server(start_server, smtp)
    body = {"client_secret": "abc", "email": "finn@example.org", "send_attempt": 1}
    status, first = await client.request("POST", f"{V3}/register/email/requestToken", body)
    assert status == 200 and len(smtp.messages) == 1
    # The same attempt again: same sid, no second mail.
    status, again = await client.request("POST", f"{V3}/register/email/requestToken", body)
    assert (status, again["sid"], len(smtp.messages)) == (200, first["sid"], 1)
    old = parse_qs(urlsplit(smtp.link_for("finn@example.org")).query)["token"][0]
    status, newer = await client.request(
        "POST", f"{V3}/register/email/requestToken", {**body, "send_attempt": 2}
    )
    assert (status, newer["sid"], len(smtp.messages)) == (200, first["sid"], 2)
    submit = "/_ranvier/client/email/submit_token"
    sub = {"sid": first["sid"], "client_secret": "abc", "token": old}
    status, got = await client.request("POST", submit, sub)
    assert (status, got["errcode"]) == (400, "M_TOKEN_INCORRECT")
    status, got = await client.request("POST", submit, {**sub, "client_secret": "nope"})
    assert (status, got["errcode"]) == (400, "M_INVALID_PARAM")
    new = parse_qs(urlsplit(smtp.link_for("finn@example.org")).query)["token"][0]
    status, got = await client.request("POST", submit, {**sub, "token": new})
    assert (status, got) == (200, {"success": True})
    for bad in (
        {**body, "client_secret": "has space"},
        {**body, "email": "not an address"},
        {**body, "send_attempt": "1"},
    ):
        status, got = await client.request("POST", f"{V3}/register/email/requestToken", bad)
        assert (status, got["errcode"]) == (400, "M_INVALID_PARAM"), bad


async def test_add_delete_capability_and_deactivation(
    start_server: ClientFactory, smtp: Smtp
) -> None:
    client = await _server(start_server, smtp)
    reg = await client.register("gus", "pw")
    t = reg["access_token"]
    status, caps = await client.request("GET", f"{V3}/capabilities", token=t)
    assert caps["capabilities"]["m.3pid_changes"] == {"enabled": True}
    add_path = "/account/3pid/email/requestToken"
    sid = await _validate(client, smtp, add_path, "gus@example.org", "k1", t)
    add = {"client_secret": "k1", "sid": sid}
    status, first = await client.request("POST", f"{V3}/account/3pid/add", add, token=t)
    assert status == 401 and first["flows"] == [{"stages": ["m.login.password"]}]
    auth = {
        "type": "m.login.password",
        "user": "gus",
        "password": "pw",
        "session": first["session"],
    }
    status, body = await client.request(
        "POST", f"{V3}/account/3pid/add", {**add, "auth": auth}, token=t
    )
    assert (status, body) == (200, {})
    # A second account cannot take it, even through the deprecated endpoint.
    other = await client.register("hal", "pw")
    status, body = await client.request(
        "POST",
        f"{V3}/account/3pid",
        {"three_pid_creds": {"client_secret": "k1", "sid": sid, "id_server": "x"}},
        token=other["access_token"],
    )
    assert (status, body["errcode"]) == (400, "M_THREEPID_IN_USE")
    # The deprecated endpoint adds a freshly validated address.
    # requestToken for accounts needs no access token (the spec gives it no security),
    # and a mail server that answers QUIT with an error still got the message.
    smtp.refuse_quit = True
    sid2 = await _validate(client, smtp, add_path, "hal@example.org", "k2")
    status, body = await client.request(
        "POST",
        f"{V3}/account/3pid",
        {"three_pid_creds": {"client_secret": "k2", "sid": sid2, "id_server": "x"}},
        token=other["access_token"],
    )
    assert (status, body) == (200, {})
    status, body = await client.request(
        "POST",
        f"{V3}/account/3pid/delete",
        {"medium": "email", "address": "HAL@example.org"},
        token=other["access_token"],
    )
    assert (status, body) == (200, {"id_server_unbind_result": "no-support"})
    status, listed = await client.request("GET", f"{V3}/account/3pid", token=other["access_token"])
    assert listed == {"threepids": []}
    # Deactivation frees gus's address and it no longer logs in.
    auth = {"type": "m.login.password", "user": "gus", "password": "pw"}
    status, _ = await client.request("POST", f"{V3}/account/deactivate", {"auth": auth}, token=t)
    assert status == 200
    status, body = await client.request(
        "POST",
        f"{V3}/login",
        {
            "type": "m.login.password",
            "password": "pw",
            "medium": "email",
            "address": "gus@example.org",
        },
    )
    assert status == 403
    status, _ = await client.request(
        "POST",
        f"{V3}/account/3pid/email/requestToken",
        {"client_secret": "k3", "email": "gus@example.org", "send_attempt": 1},
        token=other["access_token"],
    )
    assert status == 200


async def test_password_reset_by_email(start_server: ClientFactory, smtp: Smtp) -> None:
    client = await _server(start_server, smtp)
    reg = await client.register("ivy", "old-pw")
    status, body = await client.request(
        "POST",
        f"{V3}/account/password/email/requestToken",
        {"client_secret": "r1", "email": "ivy@example.org", "send_attempt": 1},
    )
    assert (status, body["errcode"]) == (400, "M_THREEPID_NOT_FOUND")
    add_path = "/account/3pid/email/requestToken"
    sid = await _validate(client, smtp, add_path, "ivy@example.org", "a1", reg["access_token"])
    await client.request(
        "POST",
        f"{V3}/account/3pid",
        {"three_pid_creds": {"client_secret": "a1", "sid": sid}},
        token=reg["access_token"],
    )
    sid = await _validate(
        client, smtp, "/account/password/email/requestToken", "ivy@example.org", "r1"
    )
    status, first = await client.request("POST", f"{V3}/account/password", {"new_password": "n"})
    assert status == 401 and first["flows"] == [{"stages": ["m.login.email.identity"]}]
    auth = {
        "type": "m.login.email.identity",
        "threepid_creds": {"sid": sid, "client_secret": "r1"},
        "session": first["session"],
    }
    status, body = await client.request("POST", f"{V3}/account/password", {"auth": auth})
    assert (status, body) == (200, {})
    # Every device was logged out; the new password works, the old one does not.
    status, _ = await client.request("GET", f"{V3}/account/whoami", token=reg["access_token"])
    assert status == 401
    login = {"type": "m.login.password", "user": "ivy"}
    status, _ = await client.request("POST", f"{V3}/login", {**login, "password": "old-pw"})
    assert status == 403
    status, _ = await client.request("POST", f"{V3}/login", {**login, "password": "n"})
    assert status == 200


async def test_without_mail_server_addresses_are_refused(client: Client) -> None:
    status, first = await client.request("POST", f"{V3}/register", {"username": "jo"})
    assert first["flows"] == [{"stages": ["m.login.dummy"]}]
    status, body = await client.request(
        "POST",
        f"{V3}/register/email/requestToken",
        {"client_secret": "c", "email": "jo@example.org", "send_attempt": 1},
    )
    assert (status, body["errcode"]) == (403, "M_THREEPID_DENIED")
    status, body = await client.request("POST", f"{V3}/account/password", {"new_password": "x"})
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")

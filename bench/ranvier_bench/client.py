"""The Client-Server API as the bench drives it: aiohttp, JSON, and strict answer checking.

Every call states the status it expects; any other answer raises :class:`BadResponse` with the
method, path, status and the start of the body, so a scenario that gets errors fails loudly
instead of timing them. The one tolerated difference is an endpoint the server does not have:
``404``/``405`` with ``errcode: M_UNRECOGNIZED`` (the Client-Server API's answer for unknown
endpoints, spec client-server-api "Common error codes") raises :class:`NotImplementedByServer`,
which the runner reports as "not implemented in <server> yet".

Accounts are made with the spec's user-interactive authentication (client-server-api
"User-interactive authentication API", ``m.login.dummy`` stage) and logged in with
``m.login.password`` ("Login"), exactly as a client would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import orjson

T = TypeVar("T")
JsonDict = dict[str, Any]
CLIENT = "/_matrix/client/v3"


class BadResponse(Exception):
    """The server answered, but not what the spec (and the scenario) requires."""


class NotImplementedByServer(Exception):
    """The server does not know an endpoint (``M_UNRECOGNIZED``)."""


@dataclass(frozen=True, slots=True)
class Account:
    """A logged-in user: its id, access token and device."""

    user_id: str
    access_token: str
    device_id: str
    password: str

    @property
    def localpart(self) -> str:
        """The localpart of the user id (``@alice:hs`` -> ``alice``)."""
        return self.user_id[1:].split(":", 1)[0]


def q(segment: str) -> str:
    """Percent-encode one path segment (user ids, room ids, event types)."""
    return quote(segment, safe="")


def require(body: JsonDict, key: str, kind: type[T], where: str) -> T:
    """Return ``body[key]`` if it is a ``kind``, else raise :class:`BadResponse`."""
    value = body.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadResponse(f"{where}: field {key!r} should be {kind.__name__}, got {value!r}")
    return value


class Api:
    """A thin client for one server over one aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: JsonDict | None = None,
        token: str | None = None,
        expect: int = 200,
        params: dict[str, str] | None = None,
        timeout: float = 60.0,
        session: aiohttp.ClientSession | None = None,
    ) -> JsonDict:
        """Send one request and return the JSON object answer, checked against ``expect``."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = orjson.dumps(body) if body is not None else None
        where = f"{method} {path}"
        try:
            async with (session or self.session).request(
                method,
                self.base_url + path,
                data=data,
                headers=headers,
                params=params,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except TimeoutError as exc:
            raise BadResponse(f"{where}: no answer within {timeout} s") from exc
        except aiohttp.ClientError as exc:
            raise BadResponse(f"{where}: {type(exc).__name__}: {exc}") from exc
        try:
            parsed: Any = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            parsed = None
        errcode = parsed.get("errcode") if isinstance(parsed, dict) else None
        if status in (404, 405) and errcode == "M_UNRECOGNIZED":
            raise NotImplementedByServer(f"{method} {endpoint_template(path)}")
        if status != expect:
            raise BadResponse(f"{where}: expected HTTP {expect}, got {status}: {raw[:300]!r}")
        if not isinstance(parsed, dict):
            raise BadResponse(f"{where}: answer is not a JSON object: {raw[:300]!r}")
        return parsed

    async def register(self, localpart: str, password: str) -> Account:
        """Register ``localpart`` through the ``m.login.dummy`` UIA flow and return its login."""
        path = f"{CLIENT}/register"
        request: JsonDict = {"username": localpart, "password": password}
        challenge = await self.call("POST", path, body=request, expect=401)
        session = require(challenge, "session", str, "register UIA challenge")
        flows = require(challenge, "flows", list, "register UIA challenge")
        if not any(isinstance(f, dict) and f.get("stages") == ["m.login.dummy"] for f in flows):
            raise BadResponse(f"register: no m.login.dummy flow offered: {flows!r}")
        request["auth"] = {"type": "m.login.dummy", "session": session}
        answer = await self.call("POST", path, body=request)
        return _account(answer, "register", password)

    async def login(self, localpart: str, password: str) -> Account:
        """Log in with ``m.login.password`` and a ``m.id.user`` identifier."""
        answer = await self.call(
            "POST",
            f"{CLIENT}/login",
            body={
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": localpart},
                "password": password,
            },
        )
        return _account(answer, "login", password)

    async def whoami(self, account: Account) -> None:
        """GET /account/whoami and check it names the account."""
        answer = await self.call("GET", f"{CLIENT}/account/whoami", token=account.access_token)
        if require(answer, "user_id", str, "whoami") != account.user_id:
            raise BadResponse(f"whoami: expected {account.user_id}, got {answer!r}")


def _account(answer: JsonDict, where: str, password: str) -> Account:
    user_id = require(answer, "user_id", str, where)
    token = require(answer, "access_token", str, where)
    device = require(answer, "device_id", str, where)
    if not user_id.startswith("@"):
        raise BadResponse(f"{where}: user_id {user_id!r} is not a user id")
    return Account(user_id, token, device, password)


_ID_SIGILS = ("!", "@", "$", "#", "%21", "%40", "%24", "%23")


def endpoint_template(path: str) -> str:
    """``path`` without its query, with Matrix ids replaced by ``{id}`` (for messages)."""
    segments = path.split("?", 1)[0].split("/")
    return "/".join("{id}" if seg.upper().startswith(_ID_SIGILS) else seg for seg in segments)

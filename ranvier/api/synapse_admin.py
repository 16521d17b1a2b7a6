"""Synapse's shared-secret registration API, ``GET/POST /_synapse/admin/v1/register``.

Admin tools (``register_new_matrix_user``, deployment scripts, test harnesses) create
accounts with it. The protocol, as Synapse documents it: ``GET`` returns a fresh
``nonce``; ``POST`` sends ``nonce``, ``username``, ``password``, ``admin``, optional
``displayname`` and ``user_type``, and ``mac``: the hex HMAC-SHA1, keyed with
``client_api.registration_shared_secret``, of
``nonce \\0 username \\0 password \\0 ("admin" | "notadmin") [\\0 user_type]``.

A nonce is valid for :data:`NONCE_LIFETIME_S` and for one attempt (it is consumed
before the MAC is checked, so a captured request cannot be replayed and a wrong MAC
cannot be retried with the same nonce). Nonces live in memory: they only need to
survive the seconds between the two requests. With no shared secret configured both
methods answer 400, as Synapse does.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from ranvier.api.client.common import RouteDef
from ranvier.http.parse import optional_bool, optional_str, parse_json_body, require_str
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.users.accounts import UserIdTaken
from ranvier.users.registration import MAX_PASSWORD_CHARS, RegistrationService

NONCE_LIFETIME_S = 60.0
PATH = "/_synapse/admin/v1/register"


def registration_mac(
    secret: str, nonce: str, username: str, password: str, admin: bool, user_type: str | None
) -> str:
    """The hex HMAC-SHA1 a client must send (for tests and tools)."""
    mac = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha1)
    mac.update(nonce.encode("utf-8"))
    mac.update(b"\x00")
    mac.update(username.encode("utf-8"))
    mac.update(b"\x00")
    mac.update(password.encode("utf-8"))
    mac.update(b"\x00")
    mac.update(b"admin" if admin else b"notadmin")
    if user_type:
        mac.update(b"\x00")
        mac.update(user_type.encode("utf-8"))
    return mac.hexdigest()


class SharedSecretRegistrationApi:
    """Serves the nonce and the registration."""

    def __init__(self, registration: RegistrationService, shared_secret: str) -> None:
        self.registration = registration
        self.shared_secret = shared_secret
        self._nonces: dict[str, float] = {}

    def _require_enabled(self) -> None:
        if not self.shared_secret:
            raise MatrixError(400, "M_UNKNOWN", "Shared secret registration is not enabled")

    def _expire(self, now: float) -> None:
        for nonce in [n for n, ts in self._nonces.items() if now - ts > NONCE_LIFETIME_S]:
            del self._nonces[nonce]

    async def get_nonce(self, request: Request) -> Response:
        """``GET``: a fresh single-use nonce."""
        self._require_enabled()
        now = time.monotonic()
        self._expire(now)
        nonce = secrets.token_hex(32)
        self._nonces[nonce] = now
        return json_response({"nonce": nonce})

    async def register(self, request: Request) -> Response:
        """``POST``: create the account if the MAC is right."""
        self._require_enabled()
        body = parse_json_body(request)
        nonce = require_str(body, "nonce")
        self._expire(time.monotonic())
        if self._nonces.pop(nonce, None) is None:
            raise MatrixError(400, "M_UNKNOWN", "unrecognised nonce")
        username = require_str(body, "username")
        password = require_str(body, "password")
        if "\x00" in username or len(username) > 512:
            raise MatrixError(400, "M_INVALID_USERNAME", "Invalid username")
        if "\x00" in password or len(password) > MAX_PASSWORD_CHARS:
            raise MatrixError(400, "M_INVALID_PARAM", "Invalid password")
        admin = bool(optional_bool(body, "admin", False))
        user_type = optional_str(body, "user_type")
        displayname = optional_str(body, "displayname")
        got = require_str(body, "mac")
        want = registration_mac(self.shared_secret, nonce, username, password, admin, user_type)
        if not hmac.compare_digest(got.encode("utf-8"), want.encode("ascii")):
            raise MatrixError(403, "M_FORBIDDEN", "HMAC incorrect")

        localpart = self.registration.localpart_for(username)
        user_id = await self.registration.ensure_available(localpart)
        accounts = self.registration.accounts
        try:
            await accounts.create_account(
                user_id, password, admin=admin, user_type=user_type, displayname=displayname
            )
        except UserIdTaken:
            raise MatrixError(400, "M_USER_IN_USE", "User ID already taken.") from None
        session = await accounts.start_session(
            user_id,
            None,
            None,
            refreshable=False,
            seen_from=(request.client_ip, request.headers.get("user-agent")),
        )
        return json_response(session.to_client(accounts.server_name))

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [("GET", PATH, self.get_nonce), ("POST", PATH, self.register)]

"""Email addresses as third-party identifiers (3PIDs): validation by mail, binding to
accounts, lookup for login (client-server-api "Adding Account Administrative Contact
Information", registration.yaml and password_management.yaml ``requestToken``,
identity-service-api ``submitToken`` for the ``submit_url`` contract, appendices
"3PID Types").

Theory of operation
-------------------
The homeserver validates addresses itself ("The homeserver should validate the email
itself, either by sending a validation email itself or by using a service it has
control over"). A ``requestToken`` call names ``client_secret``, ``email`` and
``send_attempt``; the triple (client secret, medium, address) identifies one
*validation* row with a server-chosen ``sid``. A new row, or a higher
``send_attempt`` than the row has seen, gets a fresh random token (stored only as
its SHA-256) and a mail with a link carrying ``sid``, ``client_secret`` and the
token; the same or a lower ``send_attempt`` answers the same ``sid`` and sends
nothing ("the server should respond with success but not resend the email").
Following the link (GET) or posting the three values to ``submit_url`` marks the row
validated. Whoever then presents ``{sid, client_secret}`` of a validated row (the
``m.login.email.identity`` UIA stage, ``/account/3pid/add``) has proved control of
the address. Tokens and validated rows expire after :data:`VALIDATION_LIFETIME_MS`.

Addresses are canonical before they are stored or compared: surrounding spaces
removed and the whole address case-folded (appendices "E-Mail": domain lower-cased,
Unicode "Caseless Matching"; local parts are matched case-insensitively as well, as
mail systems do in practice). An address is bound to at most one account.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from ranvier.db.api import Database, UniqueViolation
from ranvier.http.parse import optional_str, require_str
from ranvier.http.types import MatrixError
from ranvier.users.mailer import Mailer, MailError
from ranvier.users.tokens import hash_token

MEDIUM_EMAIL = "email"
VALIDATION_LIFETIME_MS = 24 * 60 * 60 * 1000
SUBMIT_PATH = "/_ranvier/client/email/submit_token"
"""Where the validation link points (GET) and ``submit_url`` (POST JSON)."""

_SECRET_RE = re.compile(r"[0-9a-zA-Z.=_-]{1,255}")
_EMAIL_RE = re.compile(r"[^@\s<>]+@[^@\s<>]+")


def _now_ms() -> int:
    return int(time.time() * 1000)


def canonical_email(address: str) -> str:
    """The canonical 3PID address of an email address; 400 ``M_INVALID_PARAM`` if it
    is not a bare ``user@domain``."""
    address = address.strip()
    if len(address) > 500 or _EMAIL_RE.fullmatch(address) is None:
        raise MatrixError(400, "M_INVALID_PARAM", "Not an email address")
    return address.casefold()


class ThreepidInUse(Exception):
    """The address is already bound to an account."""


@dataclass(frozen=True, slots=True)
class Validation:
    """One validation row."""

    sid: str
    client_secret: str
    medium: str
    address: str
    token_hash: str
    send_attempt: int
    next_link: str | None
    created_ts: int
    validated_ts: int | None


_VCOLS = (
    "sid, client_secret, medium, address, token_hash, send_attempt, next_link, created_ts, "
    "validated_ts"
)


def _validation(row: Any) -> Validation:
    return Validation(
        sid=str(row[0]),
        client_secret=str(row[1]),
        medium=str(row[2]),
        address=str(row[3]),
        token_hash=str(row[4]),
        send_attempt=int(row[5]),
        next_link=None if row[6] is None else str(row[6]),
        created_ts=int(row[7]),
        validated_ts=None if row[8] is None else int(row[8]),
    )


class ThreepidStore:
    """Reads and writes ``threepid_validations`` and ``user_threepids``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def validation(self, sid: str) -> Validation | None:
        """The validation row ``sid``, or None."""
        row = await self._db.fetchone(
            f"SELECT {_VCOLS} FROM threepid_validations WHERE sid = $1", sid
        )
        return None if row is None else _validation(row)

    async def attempt(self, client_secret: str, medium: str, address: str) -> Validation | None:
        """The validation row of this (client secret, medium, address), or None."""
        row = await self._db.fetchone(
            f"SELECT {_VCOLS} FROM threepid_validations "
            "WHERE client_secret = $1 AND medium = $2 AND address = $3",
            client_secret,
            medium,
            address,
        )
        return None if row is None else _validation(row)

    async def start(self, v: Validation) -> None:
        """Insert a new validation row (expired rows are dropped on the way)."""
        await self._db.execute(
            "DELETE FROM threepid_validations WHERE created_ts < $1",
            _now_ms() - VALIDATION_LIFETIME_MS,
        )
        await self._db.execute(
            f"INSERT INTO threepid_validations ({_VCOLS}) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            v.sid,
            v.client_secret,
            v.medium,
            v.address,
            v.token_hash,
            v.send_attempt,
            v.next_link,
            v.created_ts,
            v.validated_ts,
        )

    async def resend(self, sid: str, token_hash: str, send_attempt: int, now: int) -> None:
        """A new token for a newer ``send_attempt``: the lifetime starts again and the
        address must be validated again with the new token."""
        await self._db.execute(
            "UPDATE threepid_validations SET token_hash = $2, send_attempt = $3, "
            "created_ts = $4, validated_ts = NULL WHERE sid = $1",
            sid,
            token_hash,
            send_attempt,
            now,
        )

    async def mark_validated(self, sid: str, now: int) -> None:
        """Record that the token of ``sid`` was presented."""
        await self._db.execute(
            "UPDATE threepid_validations SET validated_ts = $2 WHERE sid = $1 "
            "AND validated_ts IS NULL",
            sid,
            now,
        )

    async def owner(self, medium: str, address: str) -> str | None:
        """The user ID the address is bound to, or None."""
        row = await self._db.fetchone(
            "SELECT user_id FROM user_threepids WHERE medium = $1 AND address = $2",
            medium,
            address,
        )
        return None if row is None else str(row[0])

    async def list_for(self, user_id: str) -> list[dict[str, Any]]:
        """The user's 3PIDs in the ``GET /account/3pid`` shape."""
        rows = await self._db.fetchall(
            "SELECT medium, address, validated_ts, added_ts FROM user_threepids "
            "WHERE user_id = $1 ORDER BY added_ts, address",
            user_id,
        )
        return [
            {
                "medium": str(r[0]),
                "address": str(r[1]),
                "validated_at": int(r[2]),
                "added_at": int(r[3]),
            }
            for r in rows
        ]

    async def bind(self, user_id: str, medium: str, address: str, validated_ts: int) -> None:
        """Bind an address to ``user_id`` (idempotent for the same user); raise
        :class:`ThreepidInUse` if another account has it."""
        try:
            await self._db.execute(
                "INSERT INTO user_threepids (medium, address, user_id, validated_ts, added_ts) "
                "VALUES ($1, $2, $3, $4, $5)",
                medium,
                address,
                user_id,
                validated_ts,
                _now_ms(),
            )
        except UniqueViolation:
            if await self.owner(medium, address) != user_id:
                raise ThreepidInUse(address) from None

    async def unbind(self, user_id: str, medium: str, address: str) -> bool:
        """Remove the address from ``user_id``; False if it was not theirs."""
        changed = await self._db.execute(
            "DELETE FROM user_threepids WHERE medium = $1 AND address = $2 AND user_id = $3",
            medium,
            address,
            user_id,
        )
        return changed > 0

    async def delete_user(self, user_id: str) -> None:
        """Forget every address of a (deactivated) user, so they can be reused."""
        await self._db.execute("DELETE FROM user_threepids WHERE user_id = $1", user_id)


class ThreepidService:
    """Email validation by mail and 3PID lookups; ``mailer`` None: email disabled."""

    def __init__(
        self, store: ThreepidStore, mailer: Mailer | None, public_base_url: str, server_name: str
    ) -> None:
        self.store = store
        self.mailer = mailer
        self.public_base_url = public_base_url
        self.server_name = server_name

    @property
    def email_enabled(self) -> bool:
        """True when this server can send validation mail."""
        return self.mailer is not None

    def submit_url(self) -> str:
        """The ``submit_url`` of ``requestToken`` answers."""
        return self.public_base_url + SUBMIT_PATH

    async def request_email_token(self, body: dict[str, Any], *, purpose: str) -> dict[str, Any]:
        """Handle an email ``requestToken`` body; ``purpose`` is ``register``/``add``
        (the address must be free: 400 ``M_THREEPID_IN_USE``) or ``password`` (it must
        be bound: 400 ``M_THREEPID_NOT_FOUND``). Returns ``{sid, submit_url}``."""
        if self.mailer is None:
            raise MatrixError(400, "M_THREEPID_MEDIUM_NOT_SUPPORTED", "Email is not configured")
        client_secret = require_str(body, "client_secret")
        if _SECRET_RE.fullmatch(client_secret) is None:
            raise MatrixError(400, "M_INVALID_PARAM", "Invalid client_secret")
        address = canonical_email(require_str(body, "email"))
        send_attempt = body.get("send_attempt")
        if type(send_attempt) is not int:
            raise MatrixError(400, "M_INVALID_PARAM", "send_attempt must be an integer")
        next_link = optional_str(body, "next_link")
        if next_link is not None and not next_link.startswith(("https://", "http://")):
            raise MatrixError(400, "M_INVALID_PARAM", "next_link must be an http(s) URL")
        owner = await self.store.owner(MEDIUM_EMAIL, address)
        if purpose == "password" and owner is None:
            raise MatrixError(400, "M_THREEPID_NOT_FOUND", "No account has this address")
        if purpose != "password" and owner is not None:
            raise MatrixError(400, "M_THREEPID_IN_USE", "The address is already in use")

        now = _now_ms()
        token = secrets.token_urlsafe(24)
        existing = await self.store.attempt(client_secret, MEDIUM_EMAIL, address)
        if existing is not None:
            fresh = now - existing.created_ts < VALIDATION_LIFETIME_MS
            if fresh and send_attempt <= existing.send_attempt:
                return {"sid": existing.sid, "submit_url": self.submit_url()}
            await self.store.resend(existing.sid, hash_token(token), send_attempt, now)
            sid = existing.sid
        else:
            sid = secrets.token_urlsafe(16)
            await self.store.start(
                Validation(
                    sid,
                    client_secret,
                    MEDIUM_EMAIL,
                    address,
                    hash_token(token),
                    send_attempt,
                    next_link,
                    now,
                    None,
                )
            )
        await self._send(address, sid, client_secret, token, purpose)
        return {"sid": sid, "submit_url": self.submit_url()}

    async def _send(self, address: str, sid: str, secret: str, token: str, purpose: str) -> None:
        assert self.mailer is not None
        query = urlencode({"sid": sid, "client_secret": secret, "token": token})
        link = f"{self.submit_url()}?{query}"
        what = {
            "register": "register an account",
            "add": "add this address to your account",
            "password": "reset your password",
        }.get(purpose, "confirm this address")
        text = (
            f"Someone asked to use this address to {what} on the Matrix server "
            f"{self.server_name}.\n\nTo confirm, open this link:\n\n{link}\n\n"
            "If it was not you, ignore this message.\n"
        )
        try:
            await self.mailer.send(
                address, f"Confirm your email address ({self.server_name})", text
            )
        except MailError as exc:
            raise MatrixError(500, "M_UNKNOWN", f"Could not send the mail: {exc}") from None

    async def submit_token(self, sid: str, client_secret: str, token: str) -> Validation:
        """Validate ``sid`` with the mailed ``token`` (identity-service-api
        ``submitToken`` errors: ``M_INVALID_PARAM``, ``M_SESSION_EXPIRED``,
        ``M_TOKEN_INCORRECT``)."""
        v = await self.store.validation(sid)
        if v is None or not secrets.compare_digest(v.client_secret, client_secret):
            raise MatrixError(400, "M_INVALID_PARAM", "Unknown validation session")
        if _now_ms() - v.created_ts > VALIDATION_LIFETIME_MS:
            raise MatrixError(400, "M_SESSION_EXPIRED", "The validation session has expired")
        if not secrets.compare_digest(v.token_hash, hash_token(token)):
            raise MatrixError(400, "M_TOKEN_INCORRECT", "The token is incorrect")
        await self.store.mark_validated(sid, _now_ms())
        return v

    async def validated(self, creds: object) -> tuple[str, str, int] | None:
        """``(medium, address, validated_ts)`` if ``creds`` (``{sid, client_secret}``)
        name a validated, unexpired session; None otherwise."""
        if not isinstance(creds, dict):
            return None
        sid, secret = creds.get("sid"), creds.get("client_secret")
        if not isinstance(sid, str) or not isinstance(secret, str):
            return None
        v = await self.store.validation(sid)
        if v is None or v.validated_ts is None:
            return None
        if not secrets.compare_digest(v.client_secret, secret):
            return None
        if _now_ms() - v.validated_ts > VALIDATION_LIFETIME_MS:
            return None
        return v.medium, v.address, v.validated_ts

    async def user_for(self, medium: str, address: str) -> str | None:
        """The account an address is bound to (addresses are canonicalised first)."""
        if medium != MEDIUM_EMAIL:
            return None
        try:
            address = canonical_email(address)
        except MatrixError:
            return None
        return await self.store.owner(medium, address)

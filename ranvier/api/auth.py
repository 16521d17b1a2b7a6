"""Access-token authentication of client requests (client-server-api "Using access
tokens", "Soft logout", "Refreshing access tokens").

The token comes from ``Authorization: Bearer <token>`` or, for older clients, the
``access_token`` query parameter (the header wins when both are sent). Missing token:
401 ``M_MISSING_TOKEN``. Unknown or revoked token: 401 ``M_UNKNOWN_TOKEN`` with
``soft_logout: false``. Expired token (clients that opted into refresh tokens): 401
``M_UNKNOWN_TOKEN`` with ``soft_logout: true``, so the client refreshes or logs in
again on the same device, keeping its keys.

Lookups go through the token cache in :class:`~ranvier.users.tokens.TokenStore`, so
the common request costs no database round trip. The device's last-seen IP, time and
user agent are written at most once per :data:`TOUCH_INTERVAL_S` per token, in a
background task, never delaying the request.

Handlers either hold the :class:`Authenticator` (passed in by the composition root) or
call the module-level :func:`require_user`, which finds it in ``request.context`` where
:func:`with_authenticator` put it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from ranvier.http.router import Handler
from ranvier.http.types import MatrixError, Request, Response
from ranvier.users.service import AccountService
from ranvier.users.tokens import TokenInfo

TOUCH_INTERVAL_S = 60.0
CONTEXT_KEY = "ranvier.auth"


@dataclass(frozen=True, slots=True)
class Requester:
    """The authenticated user behind a request."""

    user_id: str
    device_id: str
    is_guest: bool
    token_hash: str
    """SHA-256 of the access token (what logout revokes)."""


def extract_token(request: Request) -> str | None:
    """The access token of ``request`` (Bearer header first, then the query) or None."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise MatrixError(401, "M_MISSING_TOKEN", "Malformed Authorization header")
        return value.strip()
    return request.query_one("access_token")


class Authenticator:
    """Resolves access tokens to :class:`Requester` and records device activity."""

    def __init__(self, accounts: AccountService) -> None:
        self.accounts = accounts
        self.tokens = accounts.tokens
        self._touched: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def require_user(self, request: Request, *, allow_guest: bool = True) -> Requester:
        """The requester, or raise 401 (missing/unknown/expired token) or 403 (guest)."""
        token = extract_token(request)
        if token is None:
            raise MatrixError(401, "M_MISSING_TOKEN", "Missing access token")
        info = await self.tokens.lookup(token)
        if info is None:
            raise MatrixError(401, "M_UNKNOWN_TOKEN", "Unknown access token", soft_logout=False)
        if info.expired(int(time.time() * 1000)):
            raise MatrixError(401, "M_UNKNOWN_TOKEN", "Access token has expired", soft_logout=True)
        if info.is_guest and not allow_guest:
            raise MatrixError(
                403, "M_GUEST_ACCESS_FORBIDDEN", "Guest accounts cannot use this endpoint"
            )
        self._maybe_touch(info, request)
        request.context["requester"] = requester = Requester(
            info.user_id, info.device_id, info.is_guest, info.token_hash
        )
        return requester

    async def optional_user(self, request: Request) -> Requester | None:
        """The requester if a token was sent, else None (a bad token still fails)."""
        if "authorization" not in request.headers and "access_token" not in request.query:
            return None
        return await self.require_user(request)

    def _maybe_touch(self, info: TokenInfo, request: Request) -> None:
        now = time.monotonic()
        last = self._touched.get(info.token_hash)
        if last is not None and now - last < TOUCH_INTERVAL_S:
            return
        if len(self._touched) > 100_000:
            self._touched.clear()
        self._touched[info.token_hash] = now
        task = asyncio.get_running_loop().create_task(
            self.accounts.touch_device(
                info.user_id, info.device_id, request.client_ip, request.headers.get("user-agent")
            )
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Wait for pending last-seen writes (call before closing the database)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def with_authenticator(auth: Authenticator, handler: Handler) -> Handler:
    """Wrap ``handler`` so :func:`require_user` can find ``auth`` in the request context."""

    async def wrapped(request: Request) -> Response:
        request.context[CONTEXT_KEY] = auth
        return await handler(request)

    return wrapped


async def require_user(request: Request, *, allow_guest: bool = True) -> Requester:
    """Authenticate ``request`` with the :class:`Authenticator` of its server."""
    auth = request.context.get(CONTEXT_KEY)
    if not isinstance(auth, Authenticator):
        raise RuntimeError("route was not registered through with_authenticator()")
    return await auth.require_user(request, allow_guest=allow_guest)

"""Authenticating inbound federation requests (the ``X-Matrix`` Authorization header).

Spec: server-server-api "Request Authentication"; "Server Access Control Lists
(ACLs)" for the 403 hook.

Theory of operation: :meth:`ServerAuthenticator.require_server` returns the origin
server of a request or raises:

* 401 ``M_UNAUTHORIZED`` -- no header, a header that is not well-formed X-Matrix
  (:mod:`.xmatrix`), a ``destination`` that is not this server, a key the keyring
  cannot find or that is not currently
  valid (``old_verify_keys`` never sign requests), or a signature that does not
  verify over ``{method, uri, origin, destination, content}`` where ``uri`` is the
  request target exactly as received (raw path and query);
* 400 ``M_UNAUTHORIZED`` -- an ``origin`` that is not a valid server name ("Server
  names": e.g. a non-numeric port, ``localhost:http``): a malformed request rather
  than a failed authentication (the spec names no code; Synapse answers this);
* 400 ``M_NOT_JSON`` -- a body that is not JSON (the signature covers it parsed);
* 403 ``M_FORBIDDEN`` -- the origin is refused by the ``is_denied`` hook (server
  ACLs, blocklists).

A sender holding several keys may send several ``X-Matrix`` credentials (joined
into one header value by the HTTP layer); the first that verifies wins. The origin
is left in ``request.context`` under :data:`ORIGIN_KEY`, and the ``listeners`` hear
it (the outbound sender wakes its queue for a server that contacts us). Handlers
either hold the authenticator or call the module-level :func:`require_server`, which
finds it in ``request.context`` where :func:`with_server_authenticator` put it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from ranvier.core.ids import InvalidIdentifier, parse_server_name
from ranvier.core.signing import SignatureError
from ranvier.federation.keyring import Keyring
from ranvier.federation.metrics import RejectHook, ignore_rejection
from ranvier.federation.xmatrix import XMatrixParseError, parse_authorization, verify_request
from ranvier.http.router import Handler
from ranvier.http.types import MatrixError, Request, Response

ORIGIN_KEY = "ranvier.federation.origin"
CONTEXT_KEY = "ranvier.federation.auth"

_SPLIT_CREDENTIALS = re.compile(r",\s*(?=X-Matrix\s)", re.IGNORECASE)


class _Refused(MatrixError):
    """A refusal carrying the reason code for the reject hook."""

    def __init__(self, reason: str, status: int, errcode: str, error: str) -> None:
        super().__init__(status, errcode, error)
        self.reason = reason


def _unauthorized(why: str, reason: str) -> MatrixError:
    return _Refused(reason, 401, "M_UNAUTHORIZED", why)


def request_target(request: Request) -> str:
    """The request target as sent: raw path plus ``?query`` when there is one."""
    if request.raw_query:
        return f"{request.raw_path}?{request.raw_query}"
    if request.query:  # a Request built without its raw query (tests, adapters)
        pairs = [(k, v) for k, values in request.query.items() for v in values]
        return f"{request.raw_path}?{urlencode(pairs, quote_via=quote, safe='')}"
    return request.raw_path


class ServerAuthenticator:
    """Verifies X-Matrix signatures of inbound requests with the keyring."""

    def __init__(
        self,
        server_name: str,
        keyring: Keyring,
        *,
        is_denied: Callable[[str], bool] | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.server_name = server_name
        self.keyring = keyring
        self.is_denied = is_denied
        self.clock = clock or (lambda: int(time.time() * 1000))
        self.listeners: list[Callable[[str], None]] = []
        self.on_reject: RejectHook = ignore_rejection
        """Told the reason code of every refused request (federation metrics)."""
        """Called with the origin of every authenticated request (the outbound sender
        retries a destination at once when it hears from it)."""

    async def require_server(self, request: Request) -> str:
        """The authenticated origin server of ``request`` (see the module docstring)."""
        try:
            return await self._require_server(request)
        except _Refused as exc:
            self.on_reject(exc.reason)
            raise

    async def _require_server(self, request: Request) -> str:
        header = request.headers.get("authorization")
        if not header:
            raise _unauthorized("Missing Authorization header", "missing_auth")
        content: Any = None
        if request.body:
            try:
                content = orjson.loads(request.body)
            except orjson.JSONDecodeError:
                raise _Refused("not_json", 400, "M_NOT_JSON", "Content not JSON") from None
        uri = request_target(request)
        error: MatrixError | None = None
        for credential in _SPLIT_CREDENTIALS.split(header.strip()):
            try:
                origin = await self._check(credential, request.method, uri, content)
            except MatrixError as e:
                error = error or e
                continue
            if self.is_denied is not None and self.is_denied(origin):
                raise _Refused("denied_server", 403, "M_FORBIDDEN", "Server is not allowed here")
            request.context[ORIGIN_KEY] = origin
            for listener in self.listeners:
                listener(origin)
            return origin
        raise error or _unauthorized("No X-Matrix credentials", "malformed_xmatrix")

    async def _check(self, credential: str, method: str, uri: str, content: Any) -> str:
        try:
            auth = parse_authorization(credential)
        except XMatrixParseError as e:
            raise _unauthorized(str(e), "malformed_xmatrix") from None
        if auth.destination is not None and auth.destination != self.server_name:
            raise _unauthorized("Request is not for this server", "wrong_destination")
        try:
            parse_server_name(auth.origin)
        except InvalidIdentifier:
            raise _Refused(
                "bad_origin", 400, "M_UNAUTHORIZED", "Invalid origin server name"
            ) from None
        key = await self.keyring.get_key(
            auth.origin, auth.key, at_ts=self.clock(), enforce_validity=True, allow_old=False
        )
        if key is None:
            raise _unauthorized(f"No valid key {auth.key} known for {auth.origin}", "unknown_key")
        try:
            verify_request(auth, key.verify_key, method, uri, self.server_name, content)
        except SignatureError:
            raise _unauthorized("Invalid signature", "bad_request_signature") from None
        return auth.origin


def with_server_authenticator(auth: ServerAuthenticator, handler: Handler) -> Handler:
    """Wrap ``handler`` so :func:`require_server` can find ``auth`` in the request context."""

    async def wrapped(request: Request) -> Response:
        request.context[CONTEXT_KEY] = auth
        return await handler(request)

    return wrapped


async def require_server(request: Request) -> str:
    """Authenticate ``request`` with the :class:`ServerAuthenticator` of its server."""
    auth = request.context.get(CONTEXT_KEY)
    if not isinstance(auth, ServerAuthenticator):
        raise RuntimeError("route was not registered through with_server_authenticator()")
    return await auth.require_server(request)

"""Single sign-on through a CAS 2.0 server (client-server-api "SSO client
login/authentication"; the Matrix spec leaves the SSO protocol to the server, and CAS
is the one it names first).

Theory of operation
-------------------
The browser is sent to ``<server_url>/login?service=<S>``. ``S`` is the *service URL*:
the callback on this server, ``<client_api.public_base_url>/_matrix/client/r0/login/cas/ticket``,
plus a query that says how to resume — ``redirectUrl=`` for a login, ``session=``
for a user-interactive-authentication stage. After the user authenticates, CAS sends
the browser to ``S&ticket=<T>``; the server then asks CAS
``<server_url>/proxyValidate?ticket=T&service=S`` (the same ``S``, rebuilt from the
callback's query) and reads the user name from the CAS 2.0 XML answer.

The callback path under ``r0`` is the one earlier homeservers used (the spec leaves
the callback to the implementation: "It is up to the Matrix homeserver
implementation to implement a suitable endpoint"), so CAS server registrations made
for them keep working.

A CAS user name becomes a localpart with the algorithm the spec suggests
(appendices "Mapping from other character sets"): UTF-8, ``A-Z`` lower-cased, any
other byte outside the localpart grammar, and ``=``, written as ``=xx``.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from ranvier.config.schema import CasConfig

if TYPE_CHECKING:
    import aiohttp

CALLBACK_PATH = "/_matrix/client/r0/login/cas/ticket"
"""Where CAS sends the browser back (served under ``v3`` too)."""

_CAS_NS = "{http://www.yale.edu/tp/cas}"
_ALLOWED = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789._-/+")


class CasError(Exception):
    """The CAS server could not be reached or refused the ticket."""


def map_username_to_localpart(name: str) -> str:
    """Map any string onto the localpart grammar, reversibly (appendices "Mapping
    from other character sets", without case escaping: CAS names compare
    case-insensitively)."""
    out: list[str] = []
    for byte in name.encode("utf-8"):
        if 0x41 <= byte <= 0x5A:
            byte += 0x20
        if byte in _ALLOWED:
            out.append(chr(byte))
        else:
            out.append(f"={byte:02x}")
    return "".join(out)


def parse_service_response(body: str) -> str:
    """The user name in a CAS 2.0 ``serviceResponse``; :class:`CasError` on failure."""
    import xml.etree.ElementTree as ElementTree  # CAS logins are rare: not at start-up

    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise CasError(f"unreadable CAS answer: {exc}") from None
    success = root.find(f"{_CAS_NS}authenticationSuccess")
    if success is None:
        failure = root.find(f"{_CAS_NS}authenticationFailure")
        reason = "" if failure is None else (failure.get("code") or failure.text or "").strip()
        raise CasError(f"CAS refused the ticket {reason}".strip())
    user = success.find(f"{_CAS_NS}user")
    if user is None or not (user.text or "").strip():
        raise CasError("CAS answer names no user")
    return (user.text or "").strip()


class CasClient:
    """Builds the CAS URLs and validates tickets against the configured server."""

    def __init__(self, config: CasConfig, public_base_url: str) -> None:
        self.config = config
        self.public_base_url = public_base_url
        self._http: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._http is not None:
            await self._http.close()
            self._http = None

    def service_url(self, **query: str) -> str:
        """The callback URL for ``query`` (``redirectUrl=...`` or ``session=...``).

        Values are percent-encoded with nothing left unescaped but the unreserved
        characters, so the callback can rebuild the identical string from its query.
        """
        encoded = "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())
        return f"{self.public_base_url}{CALLBACK_PATH}?{encoded}"

    def login_url(self, service: str) -> str:
        """Where to send the browser to authenticate for ``service``."""
        return f"{self.config.server_url}/login?{urlencode({'service': service})}"

    async def validate(self, ticket: str, service: str) -> str:
        """Ask CAS whether ``ticket`` was issued for ``service``; return the user name."""
        import aiohttp  # imported on first use: an idle server does not need the client

        if self._http is None:
            ssl_context: ssl.SSLContext | bool = True
            if self.config.disable_tls_validation:
                ssl_context = False
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=15),
                connector=aiohttp.TCPConnector(ssl=ssl_context),
            )
        url = f"{self.config.server_url}/proxyValidate"
        try:
            async with self._http.get(url, params={"ticket": ticket, "service": service}) as r:
                body = await r.text()
                if r.status != 200:
                    raise CasError(f"CAS answered HTTP {r.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise CasError(f"CAS server unreachable: {exc}") from None
        return parse_service_response(body)

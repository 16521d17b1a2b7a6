"""Requests this homeserver makes to identity servers, for third-party invites and
for binding users' third-party identifiers.

Spec: client-server-api "Third-party invites" (server behaviour: look the address up,
or store the invite); identity-service-api v2 "Association lookup"
(``GET /_matrix/identity/v2/hash_details``, ``POST /_matrix/identity/v2/lookup``),
"Invitation storage" (``POST /_matrix/identity/v2/store-invite``) and "Key management"
(``key_validity_url``, i.e. ``GET /_matrix/identity/v2/pubkey/isvalid?public_key=``);
"Establishing associations" (``POST /_matrix/identity/v2/3pid/bind`` and
``/3pid/unbind``), used by :mod:`ranvier.users.identity_bindings`.

Theory of operation
-------------------
An identity server is named by its ``hostname[:port]`` (``id_server`` in the client's
request) and reached at ``https://<id_server>``; the client's ``id_access_token`` goes
in ``Authorization: Bearer``. :meth:`IdentityClient.lookup` first asks
``hash_details`` for the pepper and algorithms, then looks up one address: with
``sha256`` (preferred) the address is sent as the unpadded URL-safe Base64 of
SHA-256(``"<address> <medium> <pepper>"``), with ``none`` as ``"<address> <medium>"``;
the answer maps it to a user id or leaves it out. :meth:`store_invite` records a pending
invitation and returns the token, display name and public keys for the
``m.room.third_party_invite`` event. :meth:`key_is_valid` fetches a
``key_validity_url`` with ``?public_key=`` and reads ``{"valid": bool}``; any failure
(unreachable, not JSON, no boolean) counts as invalid.

:meth:`bind` publishes a validated session for a user with the client's
``id_access_token``. :meth:`unbind` needs no token: the homeserver "authenticates as
itself", as Synapse and Sydent do it: the request is signed like a federation request
(server-server-api "Request Authentication") except that the signed object names the
identity server as ``destination_is`` instead of ``destination``
(:func:`unbind_authorization`); the identity server fetches this server's keys to check
it. An answer of 400, 404 or 501 without a Matrix error in it means the identity server
does not support unbinding (identity-service-api ``/3pid/unbind`` responses).

Every failure to talk to an identity server becomes :class:`IdentityServerError`
(the client API answers it with a 4xx/5xx of its own); an error status is the subclass
:class:`IdentityServerRefused`, which keeps the status and any Matrix error so that
callers told to "proxy any errors" can. The user names the server, so
its addresses go through the same policy as federation's
(:class:`~ranvier.federation.dns_cache.AddressPolicy`: ``deny_networks``,
``allow_networks``): names through
:class:`~ranvier.federation.policy_resolver.PolicyResolver`, IP literals checked here
(aiohttp does not resolve those). Certificates are verified unless
``client_api.identity_servers.disable_tls_validation`` (tests only). Request bodies are
JSON with exactly ``Content-Type: application/json``.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from ranvier.core.b64 import encode_base64
from ranvier.core.canonical_json import encode_canonical_json
from ranvier.core.signing import SigningKey
from ranvier.federation.dns_cache import AddressPolicy, DnsCache

if TYPE_CHECKING:
    import aiohttp

REQUEST_TIMEOUT_S = 10.0
MAX_BODY_BYTES = 64 * 1024


UNBIND_PATH = "/_matrix/identity/v2/3pid/unbind"


class IdentityServerError(Exception):
    """An identity server could not be used (unreachable, refused, or a bad answer)."""


class IdentityServerRefused(IdentityServerError):
    """The identity server answered with an error status; ``errcode`` and ``error``
    are set when the body is a Matrix error (``{"errcode": ...}``)."""

    def __init__(self, url: str, status: int, body: Any) -> None:
        self.status = status
        self.errcode: str | None = None
        self.error: str | None = None
        if isinstance(body, dict) and isinstance(body.get("errcode"), str):
            self.errcode = body["errcode"]
            error = body.get("error")
            self.error = error if isinstance(error, str) else None
        super().__init__(f"{url} answered {status} {self.errcode or ''}".rstrip())


def hashed_address(medium: str, address: str, pepper: str) -> str:
    """identity-service-api "Hashing": unpadded URL-safe Base64 of
    SHA-256(``"<address> <medium> <pepper>"``)."""
    digest = hashlib.sha256(f"{address} {medium} {pepper}".encode()).digest()
    return encode_base64(digest, urlsafe=True)


def base_url(id_server: str) -> str:
    """``https://<id_server>`` for a ``hostname[:port]``; 400-worthy values raise
    :class:`IdentityServerError`."""
    if not id_server or any(c in id_server for c in '/?#@ "\\'):
        raise IdentityServerError(f"invalid identity server name {id_server!r}")
    return f"https://{id_server}"


def unbind_authorization(
    key: SigningKey, origin: str, id_server: str, content: dict[str, Any]
) -> str:
    """The ``Authorization`` header of an unbind request signed by the homeserver
    ``origin`` (module docstring): ``X-Matrix`` over ``{method, uri, origin,
    destination_is, content}``."""
    signed = {
        "method": "POST",
        "uri": UNBIND_PATH,
        "origin": origin,
        "destination_is": id_server,
        "content": content,
    }
    sig = encode_base64(key.sign(encode_canonical_json(signed)))
    return f'X-Matrix origin="{origin}",destination="{id_server}",key="{key.key_id}",sig="{sig}"'


class IdentityClient:
    """Talks to identity servers (module docstring)."""

    def __init__(self, dns: DnsCache, policy: AddressPolicy, *, verify_tls: bool = True) -> None:
        self.dns = dns
        self.policy = policy
        self.verify_tls = verify_tls
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            import aiohttp  # first use only: most servers never talk to identity servers

            from ranvier.federation.policy_resolver import PolicyResolver

            connector = aiohttp.TCPConnector(
                resolver=PolicyResolver(self.dns, self.policy), ssl=self.verify_tls, limit=20
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
                skip_auto_headers=("Content-Type",),
            )
        return self._session

    def _check_address(self, url: str) -> None:
        host = urlsplit(url).hostname or ""
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return  # a name: the resolver applies the policy
        if not self.policy.permits(host):
            raise IdentityServerError(f"identity server address {host} is not allowed")

    async def _request(
        self,
        method: str,
        url: str,
        token: str | None = None,
        body: Any = None,
        *,
        authorization: str | None = None,
    ) -> tuple[int, Any]:
        import aiohttp

        self._check_address(url)
        headers = {}
        data = None
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        elif authorization is not None:
            headers["Authorization"] = authorization
        if body is not None:
            data = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        try:
            async with self._get_session().request(
                method, url, data=data, headers=headers, allow_redirects=False
            ) as resp:
                raw = await resp.content.read(MAX_BODY_BYTES + 1)
                status = resp.status
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as e:
            raise IdentityServerError(f"cannot reach {url}: {e!r}") from None
        if len(raw) > MAX_BODY_BYTES:
            raise IdentityServerError(f"answer from {url} is too large")
        try:
            return status, orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            return status, None

    async def _json(self, method: str, url: str, token: str | None, body: Any = None) -> Any:
        status, data = await self._request(method, url, token, body)
        if status != 200:
            raise IdentityServerRefused(url, status, data)
        if not isinstance(data, dict):
            raise IdentityServerError(f"{method} {url} answered {status} without an object")
        return data

    async def lookup(self, id_server: str, token: str, medium: str, address: str) -> str | None:
        """The user id bound to ``medium``/``address`` at ``id_server``, or None."""
        base = base_url(id_server)
        details = await self._json("GET", f"{base}/_matrix/identity/v2/hash_details", token)
        algorithms = details.get("algorithms")
        pepper = details.get("lookup_pepper")
        if not isinstance(algorithms, list) or not isinstance(pepper, str):
            raise IdentityServerError(f"{id_server}: malformed hash_details")
        if "sha256" in algorithms:
            algorithm, key = "sha256", hashed_address(medium, address, pepper)
        elif "none" in algorithms:
            algorithm, key = "none", f"{address} {medium}"
        else:
            raise IdentityServerError(f"{id_server}: no supported lookup algorithm")
        answer = await self._json(
            "POST",
            f"{base}/_matrix/identity/v2/lookup",
            token,
            {"algorithm": algorithm, "pepper": pepper, "addresses": [key]},
        )
        mappings = answer.get("mappings")
        found = mappings.get(key) if isinstance(mappings, dict) else None
        return found if isinstance(found, str) else None

    async def store_invite(self, id_server: str, token: str, request: dict[str, Any]) -> Any:
        """``POST /store-invite``; the answer (``token``, ``public_keys``,
        ``display_name``) is checked by the caller."""
        base = base_url(id_server)
        return await self._json("POST", f"{base}/_matrix/identity/v2/store-invite", token, request)

    async def bind(
        self, id_server: str, token: str, sid: str, client_secret: str, mxid: str
    ) -> dict[str, Any]:
        """``POST /3pid/bind``: publish the validated session ``sid`` as ``mxid``'s.
        The answer (``medium``, ``address``, ``mxid``, signatures...) is returned
        after checking that ``medium`` and ``address`` are strings."""
        url = f"{base_url(id_server)}/_matrix/identity/v2/3pid/bind"
        body = {"sid": sid, "client_secret": client_secret, "mxid": mxid}
        answer: dict[str, Any] = await self._json("POST", url, token, body)
        if not isinstance(answer.get("medium"), str) or not isinstance(answer.get("address"), str):
            raise IdentityServerError(f"{url}: the answer names no medium and address")
        return answer

    async def unbind(
        self, id_server: str, mxid: str, medium: str, address: str, origin: str, key: SigningKey
    ) -> bool:
        """``POST /3pid/unbind`` signed by ``origin`` with ``key``: True once unbound,
        False if the identity server does not support unbinding (400/404/501 without a
        Matrix error); other errors raise :class:`IdentityServerRefused`."""
        url = base_url(id_server) + UNBIND_PATH
        content = {"mxid": mxid, "threepid": {"medium": medium, "address": address}}
        auth = unbind_authorization(key, origin, id_server, content)
        status, data = await self._request("POST", url, body=content, authorization=auth)
        if status == 200:
            return True
        refused = IdentityServerRefused(url, status, data)
        if status in (400, 404, 501) and refused.errcode is None:
            return False
        raise refused

    async def key_is_valid(self, key_validity_url: str, public_key: str) -> bool:
        """Whether ``key_validity_url`` says ``public_key`` is still valid."""
        if not key_validity_url.startswith("https://"):
            return False
        import aiohttp
        from yarl import URL

        try:
            target = URL(key_validity_url).with_fragment(None).update_query(public_key=public_key)
        except (ValueError, TypeError):
            return False
        try:
            status, data = await self._request("GET", str(target))
        except (IdentityServerError, aiohttp.InvalidURL):
            return False
        return status == 200 and isinstance(data, dict) and data.get("valid") is True

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

"""Requests this homeserver makes to identity servers, for third-party invites.

Spec: client-server-api "Third-party invites" (server behaviour: look the address up,
or store the invite); identity-service-api v2 "Association lookup"
(``GET /_matrix/identity/v2/hash_details``, ``POST /_matrix/identity/v2/lookup``),
"Invitation storage" (``POST /_matrix/identity/v2/store-invite``) and "Key management"
(``key_validity_url``, i.e. ``GET /_matrix/identity/v2/pubkey/isvalid?public_key=``).

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

Every failure to talk to an identity server becomes :class:`IdentityServerError`
(the client API answers it with a 4xx/5xx of its own). The user names the server, so
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
from ranvier.federation.dns_cache import AddressPolicy, DnsCache

if TYPE_CHECKING:
    import aiohttp

REQUEST_TIMEOUT_S = 10.0
MAX_BODY_BYTES = 64 * 1024


class IdentityServerError(Exception):
    """An identity server could not be used (unreachable, refused, or a bad answer)."""


def hashed_address(medium: str, address: str, pepper: str) -> str:
    """identity-service-api "Hashing": unpadded URL-safe Base64 of
    SHA-256(``"<address> <medium> <pepper>"``)."""
    digest = hashlib.sha256(f"{address} {medium} {pepper}".encode()).digest()
    return encode_base64(digest, urlsafe=True)


def base_url(id_server: str) -> str:
    """``https://<id_server>`` for a ``hostname[:port]``; 400-worthy values raise
    :class:`IdentityServerError`."""
    if not id_server or any(c in id_server for c in "/?#@ \\"):
        raise IdentityServerError(f"invalid identity server name {id_server!r}")
    return f"https://{id_server}"


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
        self, method: str, url: str, token: str | None = None, body: Any = None
    ) -> tuple[int, Any]:
        import aiohttp

        self._check_address(url)
        headers = {}
        data = None
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
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
        if status != 200 or not isinstance(data, dict):
            raise IdentityServerError(f"{method} {url} answered {status}")
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

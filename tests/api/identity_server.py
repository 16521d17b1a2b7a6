"""A small identity server for tests: real HTTPS (self-signed), real Ed25519 keys.

It serves what a homeserver asks of an identity server during third-party invites
(identity-service-api v2): ``hash_details`` and ``lookup`` (``sha256`` only),
``store-invite``, and ``pubkey/isvalid``; every endpoint but ``isvalid`` wants the
access token ``ACCESS_TOKEN``. :meth:`TestIdentityServer.bind` records a binding and,
like a real identity server, POSTs ``/_matrix/federation/v1/3pid/onbind`` to the
user's homeserver with each pending invite's ``signed`` object signed by its key.

For bindings made through a homeserver it also serves ``/3pid/bind`` (a session made
by :meth:`TestIdentityServer.validate`, with the access token) and ``/3pid/unbind``,
which, like Sydent, wants no access token but an ``X-Matrix`` signature of the
homeserver over ``{method, uri, origin, destination_is, content}``, checked with the
key the homeserver serves at ``/_matrix/key/v2/server`` (``homeserver_base``). An
unbind of something not bound is 404 with an empty body ("unbinding unsupported", as
Sytest's identity server answers); ``unbind_answer`` forces an answer.
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from ranvier.core.b64 import encode_base64
from ranvier.core.signing import (
    SignatureError,
    SigningKey,
    decode_verify_key_base64,
    generate_signing_key,
    sign_json,
    verify_json_signature,
)
from ranvier.federation.xmatrix import XMatrixParseError, parse_authorization
from ranvier.http.tls import make_self_signed

ACCESS_TOKEN = "id-token"
PEPPER = "pepper-1"


def public_key_of(key: SigningKey) -> str:
    """Unpadded Base64 of the verify key."""
    return encode_base64(bytes(key.verify_key))


@dataclass
class TestIdentityServer:
    """See the module docstring."""

    __test__ = False

    name: str = ""
    key: SigningKey = field(default_factory=lambda: generate_signing_key("0"))
    revoked: set[str] = field(default_factory=set)
    bindings: dict[str, str] = field(default_factory=dict)
    invites: list[dict[str, Any]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    runner: web.AppRunner | None = None
    sessions: dict[str, tuple[str, str]] = field(default_factory=dict)
    """sid -> (client_secret, address) of validated sessions."""
    homeserver_base: str = ""
    """Where unbind signatures' keys are fetched (``http://host:port``)."""
    unbind_answer: tuple[int, Any] | None = None
    """A forced ``(status, JSON body or None)`` answer to ``/3pid/unbind``."""
    unbinds: list[dict[str, Any]] = field(default_factory=list)
    """The bodies of the accepted (signed) unbind requests."""

    def validate(self, address: str, client_secret: str) -> str:
        """A validated session for ``address`` (as after ``requestToken``/``submitToken``)."""
        sid = f"sid{len(self.sessions)}"
        self.sessions[sid] = (client_secret, address)
        return sid

    @property
    def isvalid_url(self) -> str:
        return f"https://{self.name}/_matrix/identity/v2/pubkey/isvalid"

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {ACCESS_TOKEN}"

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        path = request.path
        if path == "/_matrix/identity/v2/pubkey/isvalid":
            key = request.query.get("public_key", "")
            valid = key == public_key_of(self.key) and key not in self.revoked
            return web.json_response({"valid": valid})
        if path == "/_matrix/identity/v2/3pid/unbind":
            return await self._unbind(request)
        if not self._authorised(request):
            return web.json_response({"errcode": "M_UNAUTHORIZED"}, status=401)
        if path == "/_matrix/identity/v2/hash_details":
            return web.json_response({"algorithms": ["sha256"], "lookup_pepper": PEPPER})
        body = orjson.loads(await request.read())
        if path == "/_matrix/identity/v2/lookup":
            assert body["algorithm"] == "sha256" and body["pepper"] == PEPPER
            by_hash = {_hash(address, PEPPER): mxid for address, mxid in self.bindings.items()}
            found = {h: by_hash[h] for h in body["addresses"] if h in by_hash}
            return web.json_response({"mappings": found})
        if path == "/_matrix/identity/v2/3pid/bind":
            session = self.sessions.get(body.get("sid"))
            if session is None or session[0] != body.get("client_secret"):
                return web.json_response(
                    {"errcode": "M_NO_VALID_SESSION", "error": "No such session"}, status=404
                )
            self.bindings[session[1]] = body["mxid"]
            answer = {
                "medium": "email",
                "address": session[1],
                "mxid": body["mxid"],
                "not_before": 0,
                "not_after": 4582425849161,
                "ts": 0,
            }
            return web.json_response(sign_json(answer, self.name, self.key))
        if path == "/_matrix/identity/v2/store-invite":
            token = f"tok{len(self.invites)}"
            self.invites.append({**body, "token": token})
            return web.json_response(
                {
                    "token": token,
                    "display_name": "a...@e...",
                    "public_keys": [
                        {
                            "public_key": public_key_of(self.key),
                            "key_validity_url": self.isvalid_url,
                        }
                    ],
                }
            )
        return web.json_response({"errcode": "M_UNRECOGNIZED"}, status=404)

    async def _unbind(self, request: web.Request) -> web.Response:
        """``/3pid/unbind`` signed by the homeserver (module docstring)."""
        body = orjson.loads(await request.read())
        try:
            auth = parse_authorization(request.headers.get("Authorization", ""))
        except XMatrixParseError:
            return web.json_response({"errcode": "M_UNAUTHORIZED"}, status=401)
        signed = {
            "method": request.method,
            "uri": request.path_qs,
            "origin": auth.origin,
            "destination_is": self.name,
            "content": body,
            "signatures": {auth.origin: {auth.key: auth.sig}},
        }
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.homeserver_base}/_matrix/key/v2/server") as resp,
        ):
            keys = await resp.json()
        try:
            key = decode_verify_key_base64(keys["verify_keys"][auth.key]["key"])
            verify_json_signature(signed, auth.origin, auth.key, key)
        except (KeyError, SignatureError):
            return web.json_response(
                {"errcode": "M_FORBIDDEN", "error": "Invalid homeserver signature"}, status=403
            )
        if not body["mxid"].endswith(":" + auth.origin):
            return web.json_response({"errcode": "M_FORBIDDEN"}, status=403)
        if self.unbind_answer is not None:
            status, answer = self.unbind_answer
            if answer is None:
                return web.Response(status=status)
            return web.json_response(answer, status=status)
        address = body["threepid"]["address"]
        if self.bindings.get(address) != body["mxid"]:
            return web.Response(status=404)
        del self.bindings[address]
        self.unbinds.append(body)
        return web.json_response({})

    async def start(self, directory: Path) -> None:
        cert, key = directory / "is.crt", directory / "is.key"
        make_self_signed(cert, key, ("127.0.0.1",))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.name = f"127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def signed_for(self, mxid: str, token: str, key: SigningKey | None = None) -> dict[str, Any]:
        """The ``signed`` object of a bound invite."""
        return sign_json({"mxid": mxid, "token": token}, self.name, key or self.key)

    async def bind(
        self, address: str, mxid: str, hs_base: str, key: SigningKey | None = None
    ) -> int:
        """Bind ``address`` to ``mxid`` and call the homeserver's ``onbind``; the status."""
        self.bindings[address] = mxid
        pending = [
            {
                "medium": "email",
                "address": address,
                "mxid": mxid,
                "room_id": inv["room_id"],
                "sender": inv["sender"],
                "signed": self.signed_for(mxid, inv["token"], key),
            }
            for inv in self.invites
            if inv["address"] == address
        ]
        body = {"medium": "email", "address": address, "mxid": mxid, "invites": pending}
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{hs_base}/_matrix/federation/v1/3pid/onbind",
                data=orjson.dumps(body),
                headers={"Content-Type": "application/json"},
                ssl=False,
            ) as resp,
        ):
            return resp.status


def _hash(address: str, pepper: str) -> str:
    digest = hashlib.sha256(f"{address} email {pepper}".encode()).digest()
    return encode_base64(digest, urlsafe=True)

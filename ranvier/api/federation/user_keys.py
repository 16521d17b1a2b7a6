"""``POST /_matrix/federation/v1/user/keys/query`` and ``/user/keys/claim``
(server-server-api "End-to-End Encryption", user_keys.yaml).

Other servers ask for the device keys, master and self-signing keys of this server's
users, and claim their one-time keys. Only local users are answered; users of other
servers in the request are ignored (the spec: "The users ... must be local to the
receiving homeserver"). Device display names and user-signing keys are not shared.
"""

from __future__ import annotations

from ranvier.api.client.common import RouteDef
from ranvier.api.federation import FEDERATION_V1
from ranvier.e2ee.keys import E2eKeys, reject_nul
from ranvier.federation.inbound_auth import ServerAuthenticator
from ranvier.http.parse import parse_json_body
from ranvier.http.types import MatrixError, Request, Response, json_response


class FederationUserKeysApi:
    """Serves key queries and claims from other servers."""

    def __init__(self, keys: E2eKeys, auth: ServerAuthenticator) -> None:
        self.keys = keys
        self.auth = auth

    async def query(self, request: Request) -> Response:
        """``POST /user/keys/query``."""
        await self.auth.require_server(request)
        body = parse_json_body(request)
        reject_nul(body)
        wanted = body.get("device_keys")
        if not isinstance(wanted, dict):
            raise MatrixError(400, "M_BAD_JSON", "'device_keys' must be an object")
        local: dict[str, list[str]] = {}
        for user_id, devices in wanted.items():
            if not isinstance(devices, list) or not all(isinstance(d, str) for d in devices):
                raise MatrixError(400, "M_BAD_JSON", "device_keys values must be lists")
            if self.keys.is_local(user_id):
                local[user_id] = devices
        return json_response(await self.keys.query_local(local, None))

    async def claim(self, request: Request) -> Response:
        """``POST /user/keys/claim``."""
        await self.auth.require_server(request)
        body = parse_json_body(request)
        reject_nul(body)
        wanted = E2eKeys.parse_claim(body.get("one_time_keys"))
        local = {u: d for u, d in wanted.items() if self.keys.is_local(u)}
        return json_response({"one_time_keys": await self.keys.claim_local(local)})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [
            ("POST", f"{FEDERATION_V1}/user/keys/query", self.query),
            ("POST", f"{FEDERATION_V1}/user/keys/claim", self.claim),
        ]

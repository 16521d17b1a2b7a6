"""End-to-end encryption key endpoints (client-server-api "End-to-End Encryption";
keys.yaml, cross_signing.yaml).

* ``POST /keys/upload`` -- device, one-time and fallback keys; ``one_time_key_counts``;
* ``POST /keys/query`` -- device and cross-signing keys of local and remote users;
* ``POST /keys/claim`` -- one key per device and algorithm;
* ``GET /keys/changes`` -- ``changed`` / ``left`` between two sync tokens;
* ``POST /keys/device_signing/upload`` -- cross-signing keys, with User-Interactive
  Authentication (the re-authentication flows) unless the spec's exceptions apply;
* ``POST /keys/signatures/upload`` -- cross-signing signatures.

Handlers parse and delegate to :mod:`ranvier.e2ee`. The key backup endpoints
(:mod:`ranvier.api.client.room_keys`) are routed with these.
"""

from __future__ import annotations

from ranvier.api.auth import require_user
from ranvier.api.client.common import CLIENT, V3, RouteDef
from ranvier.api.client.reauth import Reauth
from ranvier.api.client.room_keys import RoomKeysApi
from ranvier.e2ee import E2ee
from ranvier.e2ee.keys import reject_nul
from ranvier.http.parse import parse_json_body, query_str
from ranvier.http.types import Request, Response, json_response
from ranvier.sync.tokens import parse_sync_token
from ranvier.users.service import AccountService
from ranvier.users.uia import UserInteractiveAuth

UNSTABLE = f"{CLIENT}/unstable"


class KeysClientApi:
    """Serves the ``/keys/*`` endpoints."""

    def __init__(self, e2ee: E2ee, accounts: AccountService, uia: UserInteractiveAuth) -> None:
        self.e2ee = e2ee
        self.reauth = Reauth(accounts, uia)

    async def upload(self, request: Request) -> Response:
        """``POST /keys/upload``."""
        requester = await require_user(request)
        body = parse_json_body(request)
        reject_nul(body)
        out = await self.e2ee.keys.upload(requester.user_id, requester.device_id, body)
        return json_response(out)

    async def query(self, request: Request) -> Response:
        """``POST /keys/query``."""
        requester = await require_user(request)
        body = parse_json_body(request)
        reject_nul(body)
        return json_response(await self.e2ee.keys.query(requester.user_id, body))

    async def claim(self, request: Request) -> Response:
        """``POST /keys/claim``."""
        await require_user(request)
        body = parse_json_body(request)
        reject_nul(body)
        return json_response(await self.e2ee.keys.claim(body))

    async def changes(self, request: Request) -> Response:
        """``GET /keys/changes?from=&to=``."""
        requester = await require_user(request)
        since = parse_sync_token(query_str(request, "from"))
        upto = parse_sync_token(query_str(request, "to"))
        changes = await self.e2ee.device_lists.changes(
            requester.user_id, since.device_lists, upto.device_lists, since.events, upto.events
        )
        return json_response(changes.to_json())

    async def device_signing_upload(self, request: Request) -> Response:
        """``POST /keys/device_signing/upload``."""
        requester = await require_user(request, allow_guest=False)
        body = parse_json_body(request)
        reject_nul(body)
        if await self.e2ee.cross_signing.needs_auth(requester.user_id, body):
            await self.reauth.authenticate(request, requester.user_id, body.get("auth"))
        await self.e2ee.cross_signing.upload_keys(requester.user_id, body)
        return json_response({})

    async def signatures_upload(self, request: Request) -> Response:
        """``POST /keys/signatures/upload``."""
        requester = await require_user(request)
        body = parse_json_body(request)
        reject_nul(body)
        out = await self.e2ee.cross_signing.upload_signatures(requester.user_id, body)
        return json_response(out)

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [
            ("POST", f"{V3}/keys/upload", self.upload),
            ("POST", f"{V3}/keys/query", self.query),
            ("POST", f"{V3}/keys/claim", self.claim),
            ("GET", f"{V3}/keys/changes", self.changes),
            ("POST", f"{V3}/keys/device_signing/upload", self.device_signing_upload),
            ("POST", f"{V3}/keys/signatures/upload", self.signatures_upload),
            # The paths of MSC1756, from before Matrix 1.1, still used by clients and
            # by Sytest.
            ("POST", f"{UNSTABLE}/keys/device_signing/upload", self.device_signing_upload),
            ("POST", f"{UNSTABLE}/keys/signatures/upload", self.signatures_upload),
            *RoomKeysApi(self.e2ee.backups).routes(),
        ]

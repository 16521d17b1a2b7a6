"""Third-party identifiers on accounts (client-server-api "Adding Account
Administrative Contact Information", administrative_contact.yaml; the
``/account/password/*/requestToken`` endpoints of password_management.yaml; the
validation link). Logic lives in :mod:`ranvier.users.threepids` (addresses on the
account) and :mod:`ranvier.users.identity_bindings` (bindings at identity servers).

Email addresses are validated by this server's own mail (when ``client_api.email``
is configured) and then added to the account. Phone numbers cannot be validated (no
SMS sender): their ``requestToken`` endpoints answer
``M_THREEPID_MEDIUM_NOT_SUPPORTED`` / ``M_THREEPID_NOT_FOUND``.

``/3pid/bind`` publishes an address the client validated with an identity server
there, and remembers where; ``/3pid/unbind`` removes it from the identity server only,
``/3pid/delete`` from the account and the identity server. Both accept an address that
is not on the account (it may have been bound through ``/bind``, which does not add
it, or out of band; the identity server checks that it is bound to this user), but
``/delete`` of an address neither on the account nor at any identity server that is
known or named answers 400 ``M_THREEPID_NOT_FOUND``. Both answer
``id_server_unbind_result``. ``/bind`` and ``/unbind`` are also served under the
``unstable`` prefix (older clients and Sytest).

The deprecated ``POST /account/3pid`` behaves "as though [bind] was false"
(administrative_contact.yaml), which in its original meaning is: add the validated
address to the account, bind nothing. (The same paragraph then calls it "equivalent
to /3pid/bind"; adding is what ``bind: false`` always did, so that is what it does
here.)
"""

from __future__ import annotations

import html
from typing import Any

from ranvier.api.auth import Authenticator
from ranvier.api.client.common import CLIENT, V3, RouteDef
from ranvier.api.client.reauth import Reauth
from ranvier.http.parse import optional_dict, optional_str, parse_json_body, require_str
from ranvier.http.ratelimit import RateLimiter
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.users.identity_bindings import IdentityBindings
from ranvier.users.service import AccountService
from ranvier.users.threepids import (
    MEDIUM_EMAIL,
    SUBMIT_PATH,
    ThreepidInUse,
    ThreepidService,
    canonical_email,
)
from ranvier.users.uia import UserInteractiveAuth


def _page(status: int, title: str, text: str) -> Response:
    body = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(text)}</p></body></html>"
    )
    return Response(status, body.encode("utf-8"), [("Cache-Control", "no-store")], "text/html")


class ThreepidApi:
    """Serves ``/account/3pid*``, the ``requestToken`` endpoints for accounts and
    password resets, and the mailed validation link."""

    def __init__(
        self,
        accounts: AccountService,
        auth: Authenticator,
        uia: UserInteractiveAuth,
        threepids: ThreepidService,
        bindings: IdentityBindings,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.accounts = accounts
        self.auth = auth
        self.reauth = Reauth(accounts, uia)
        self.threepids = threepids
        self.bindings = bindings
        self.limiter = limiter

    def _limit(self, request: Request) -> None:
        """Mail goes out on unauthenticated requests: limit them per client IP."""
        if self.limiter is not None:
            self.limiter.check(request.client_ip)

    async def list_threepids(self, request: Request) -> Response:
        """``GET /account/3pid``."""
        requester = await self.auth.require_user(request)
        return json_response({"threepids": await self.threepids.store.list_for(requester.user_id)})

    async def _validated(self, creds: dict[str, Any]) -> tuple[str, str, int]:
        found = await self.threepids.validated(creds)
        if found is None:
            raise MatrixError(400, "M_THREEPID_AUTH_FAILED", "No validated session with this sid")
        return found

    async def _bind(self, user_id: str, found: tuple[str, str, int]) -> Response:
        try:
            await self.threepids.store.bind(user_id, *found)
        except ThreepidInUse:
            raise MatrixError(400, "M_THREEPID_IN_USE", "The address is already in use") from None
        return json_response({})

    async def add(self, request: Request) -> Response:
        """``POST /account/3pid/add`` (UIA): add a validated address to the account.

        The validation session is checked before the user is asked to authenticate,
        so nobody re-enters a password for an address that cannot be added.
        """
        requester = await self.auth.require_user(request, allow_guest=False)
        body = parse_json_body(request)
        params: dict[str, Any] = {}
        for key in ("client_secret", "sid"):
            if key in body:
                params[key] = require_str(body, key)
        auth = body.get("auth")
        session = await self.reauth.begin(request, requester.user_id, auth, params)
        for key in ("client_secret", "sid"):
            if not isinstance(session.params.get(key), str):
                raise MatrixError(400, "M_MISSING_PARAM", f"Missing '{key}'")
        found = await self._validated(session.params)
        await self.reauth.complete(session, requester.user_id, auth)
        return await self._bind(requester.user_id, found)

    async def add_deprecated(self, request: Request) -> Response:
        """``POST /account/3pid`` (deprecated): add the address of ``three_pid_creds``."""
        requester = await self.auth.require_user(request, allow_guest=False)
        body = parse_json_body(request)
        creds = optional_dict(body, "three_pid_creds") or optional_dict(body, "threePidCreds")
        if creds is None:
            raise MatrixError(400, "M_MISSING_PARAM", "Missing three_pid_creds")
        require_str(creds, "client_secret")
        require_str(creds, "sid")
        return await self._bind(requester.user_id, await self._validated(creds))

    async def bind(self, request: Request) -> Response:
        """``POST /account/3pid/bind``: bind at the identity server (module docstring)."""
        requester = await self.auth.require_user(request, allow_guest=False)
        body = parse_json_body(request)
        client_secret, id_server, id_access_token, sid = (
            require_str(body, key)
            for key in ("client_secret", "id_server", "id_access_token", "sid")
        )
        await self.bindings.bind(requester.user_id, id_server, id_access_token, sid, client_secret)
        return json_response({})

    async def delete(self, request: Request) -> Response:
        """``POST /account/3pid/delete``: remove an address from the account and unbind
        it from the identity server named or recorded (module docstring)."""
        requester = await self.auth.require_user(request, allow_guest=False)
        body = parse_json_body(request)
        medium, address = self._threepid(body)
        id_server = optional_str(body, "id_server")
        user_id = requester.user_id
        on_account = await self.threepids.store.owner(medium, address) == user_id
        if (
            not on_account
            and id_server is None
            and not await self.bindings.known_servers(user_id, medium, address)
        ):
            raise MatrixError(400, "M_THREEPID_NOT_FOUND", "This identifier is not on the account")
        result = await self.bindings.unbind(user_id, medium, address, id_server)
        if on_account:
            await self.threepids.store.unbind(user_id, medium, address)
        return json_response({"id_server_unbind_result": result})

    async def unbind(self, request: Request) -> Response:
        """``POST /account/3pid/unbind``: unbind from the identity server named or
        recorded, leaving the account's 3PIDs as they are."""
        requester = await self.auth.require_user(request, allow_guest=False)
        body = parse_json_body(request)
        medium, address = self._threepid(body)
        id_server = optional_str(body, "id_server")
        result = await self.bindings.unbind(requester.user_id, medium, address, id_server)
        return json_response({"id_server_unbind_result": result})

    @staticmethod
    def _threepid(body: dict[str, Any]) -> tuple[str, str]:
        medium = require_str(body, "medium")
        address = require_str(body, "address")
        if medium not in ("email", "msisdn"):
            raise MatrixError(400, "M_INVALID_PARAM", "medium must be 'email' or 'msisdn'")
        if medium == MEDIUM_EMAIL:
            address = canonical_email(address)
        return medium, address

    async def add_request_token(self, request: Request) -> Response:
        """``POST /account/3pid/{email,msisdn}/requestToken`` (no access token needed:
        administrative_contact.yaml gives this endpoint no security requirement)."""
        self._limit(request)
        body = parse_json_body(request)
        if not request.path.endswith("/email/requestToken"):
            raise MatrixError(
                400, "M_THREEPID_MEDIUM_NOT_SUPPORTED", "This server cannot validate numbers"
            )
        return json_response(await self.threepids.request_email_token(body, purpose="add"))

    async def password_request_token(self, request: Request) -> Response:
        """``POST /account/password/{email,msisdn}/requestToken``: mail a link to an
        address bound to an account, to reset its password (``M_THREEPID_NOT_FOUND``
        if no account has it)."""
        self._limit(request)
        body = parse_json_body(request)
        if not request.path.endswith("/email/requestToken") or not self.threepids.email_enabled:
            raise MatrixError(400, "M_THREEPID_NOT_FOUND", "No account has this identifier")
        return json_response(await self.threepids.request_email_token(body, purpose="password"))

    async def submit_link(self, request: Request) -> Response:
        """``GET`` of the mailed link: validate, then show a page or go to ``next_link``."""
        try:
            v = await self.threepids.submit_token(
                request.query_one("sid") or "",
                request.query_one("client_secret") or "",
                request.query_one("token") or "",
            )
        except MatrixError as exc:
            return _page(400, "Validation failed", exc.error)
        if v.next_link:
            return Response(302, b"", [("Location", v.next_link)])
        return _page(200, "Address confirmed", "You may return to your Matrix client.")

    async def submit_json(self, request: Request) -> Response:
        """``POST submit_url`` (identity-service-api ``submitToken`` contract)."""
        body = parse_json_body(request)
        await self.threepids.submit_token(
            require_str(body, "sid"), require_str(body, "client_secret"), require_str(body, "token")
        )
        return json_response({"success": True})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [
            ("GET", f"{V3}/account/3pid", self.list_threepids),
            ("POST", f"{V3}/account/3pid", self.add_deprecated),
            ("POST", f"{V3}/account/3pid/add", self.add),
            ("POST", f"{V3}/account/3pid/bind", self.bind),
            ("POST", f"{CLIENT}/unstable/account/3pid/bind", self.bind),
            ("POST", f"{V3}/account/3pid/delete", self.delete),
            ("POST", f"{V3}/account/3pid/unbind", self.unbind),
            ("POST", f"{CLIENT}/unstable/account/3pid/unbind", self.unbind),
            ("POST", f"{V3}/account/3pid/email/requestToken", self.add_request_token),
            ("POST", f"{V3}/account/3pid/msisdn/requestToken", self.add_request_token),
            ("POST", f"{V3}/account/password/email/requestToken", self.password_request_token),
            ("POST", f"{V3}/account/password/msisdn/requestToken", self.password_request_token),
            ("GET", SUBMIT_PATH, self.submit_link),
            ("POST", SUBMIT_PATH, self.submit_json),
        ]

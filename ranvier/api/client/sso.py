"""Single sign-on endpoints (client-server-api "SSO client login/authentication",
sso_login_redirect.yaml, "Fallback"), backed by a CAS server (:mod:`ranvier.users.cas`).

Login: ``GET /login/sso/redirect?redirectUrl=U`` answers 302 to the CAS login page;
CAS sends the browser to the callback ``.../login/cas/ticket?redirectUrl=U&ticket=T``;
the ticket is validated, the CAS user name mapped to a user ID, the account created
if new ("If the generated user identifier represents a new user, it should be
registered as a new user"), and a single-use login token issued. Instead of
redirecting at once, the callback shows a page asking the user to continue to the
client named in ``redirectUrl``, with ``loginToken`` added to it: the spec's security
considerations say homeservers "SHOULD confirm with the user that they are happy to
grant access to their matrix account to the site named in the redirectUrl". Because
a person reads that page, the token lives two minutes rather than the five seconds
the spec suggests for an immediate redirect; it can be used once.

User-interactive authentication: ``GET /auth/m.login.sso/fallback/web?session=S``
explains which operation is being confirmed and links to CAS with the callback
``.../login/cas/ticket?session=S``; the callback validates the ticket and records the
``m.login.sso`` stage for the session if CAS names the session's user (a different
user makes the session fail with 403), then serves the fallback completion page with
the script the spec's "Fallback" section prescribes.

The deprecated ``/login/cas/redirect`` (r0.4.0 ``m.login.cas``) behaves like
``/login/sso/redirect``, as the spec's note describes.
"""

from __future__ import annotations

import contextlib
import html
from urllib.parse import urlsplit, urlunsplit

from ranvier.api.client.common import CLIENT, V3, RouteDef
from ranvier.http.types import MatrixError, Request, Response
from ranvier.users.accounts import UserIdTaken
from ranvier.users.cas import CALLBACK_PATH, CasClient, CasError, map_username_to_localpart
from ranvier.users.service import AccountService
from ranvier.users.uia import UserInteractiveAuth

SSO_LOGIN_TOKEN_LIFETIME_MS = 2 * 60 * 1000
IDP_ID = "cas"
"""The ``id`` of the one identity provider in the ``m.login.sso`` flow."""

_AUTH_DONE_SCRIPT = """if (window.onAuthDone) {
    window.onAuthDone();
} else if (window.opener && window.opener.postMessage) {
    window.opener.postMessage("authDone", "*");
}"""


def with_login_token(redirect_url: str, token: str) -> str:
    """``redirect_url`` with any ``loginToken`` parameter replaced by ``token``; the
    rest of the query is kept byte for byte (sso_login.md, "Handling the callback")."""
    parts = urlsplit(redirect_url)
    kept = [p for p in parts.query.split("&") if p and not p.startswith("loginToken=")]
    kept.append(f"loginToken={token}")
    return urlunsplit(parts._replace(query="&".join(kept)))


def _page(status: int, title: str, body_html: str, script: str = "") -> Response:
    tail = f"<script>{script}</script>" if script else ""
    text = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1>{body_html}{tail}</body></html>"
    )
    return Response(
        status=status,
        body=text.encode("utf-8"),
        headers=[("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer")],
        content_type="text/html; charset=utf-8",
    )


def _redirect(location: str) -> Response:
    return Response(status=302, body=b"", headers=[("Location", location)])


class SsoApi:
    """Serves the SSO redirect, callback and UIA fallback endpoints."""

    def __init__(
        self,
        accounts: AccountService,
        uia: UserInteractiveAuth,
        cas: CasClient,
    ) -> None:
        self.accounts = accounts
        self.uia = uia
        self.cas = cas

    def identity_providers(self) -> list[dict[str, str]]:
        """The ``identity_providers`` of the ``m.login.sso`` login flow."""
        return [{"id": IDP_ID, "name": self.cas.config.display_name}]

    async def redirect(self, request: Request) -> Response:
        """``GET /login/sso/redirect`` (and ``/login/cas/redirect``): 302 to CAS."""
        redirect_url = request.query_one("redirectUrl")
        if not redirect_url:
            raise MatrixError(400, "M_MISSING_PARAM", "Missing redirectUrl")
        return _redirect(self.cas.login_url(self.cas.service_url(redirectUrl=redirect_url)))

    async def redirect_idp(self, request: Request) -> Response:
        """``GET /login/sso/redirect/{idpId}``: only the CAS provider exists."""
        if request.path_params["idpId"] != IDP_ID:
            raise MatrixError(404, "M_NOT_FOUND", "Unknown identity provider")
        return await self.redirect(request)

    async def fallback(self, request: Request) -> Response:
        """``GET /auth/m.login.sso/fallback/web?session=``: confirm, then go to CAS."""
        session_id = request.query_one("session")
        if not session_id:
            raise MatrixError(400, "M_MISSING_PARAM", "Missing session")
        session = await self.uia.store.get(session_id)
        if session is None or session.finished or session.user_id is None:
            return _page(400, "Unknown session", "<p>This request has expired.</p>")
        login = self.cas.login_url(self.cas.service_url(session=session_id))
        return _page(
            200,
            "Confirm this action",
            f"<p>A client is asking to perform <code>{html.escape(session.method)} "
            f"{html.escape(session.path)}</code> as {html.escape(session.user_id)}. "
            "To confirm, sign in again. If you did not expect this, your account may be "
            f"compromised.</p><p><a href='{html.escape(login)}'>Continue with single "
            "sign-on</a></p>",
        )

    async def ticket(self, request: Request) -> Response:
        """The CAS callback: finish a login (``redirectUrl``) or a UIA stage (``session``)."""
        ticket = request.query_one("ticket")
        session_id = request.query_one("session")
        redirect_url = request.query_one("redirectUrl")
        if not ticket:
            raise MatrixError(400, "M_MISSING_PARAM", "Missing ticket")
        if session_id:
            service = self.cas.service_url(session=session_id)
        elif redirect_url:
            service = self.cas.service_url(redirectUrl=redirect_url)
        else:
            raise MatrixError(400, "M_MISSING_PARAM", "Missing redirectUrl or session")
        try:
            name = await self.cas.validate(ticket, service)
        except CasError as exc:
            return _page(403, "Sign-in failed", f"<p>{html.escape(str(exc))}</p>")
        localpart = map_username_to_localpart(name)
        user_id = self.accounts.user_id_for(localpart)
        if not localpart or len(user_id.encode("utf-8")) > 255:
            return _page(403, "Sign-in failed", "<p>This user name cannot be used here.</p>")
        if session_id:
            return await self._finish_uia(session_id, user_id)
        assert redirect_url is not None
        return await self._finish_login(user_id, redirect_url)

    async def _finish_uia(self, session_id: str, user_id: str) -> Response:
        session = await self.uia.complete_out_of_band(session_id, "m.login.sso", user_id)
        if "m.login.sso" not in session.completed:
            # The page itself worked: it tells the client to retry, and that retry
            # fails with 403 (the session is refused), which is where the client
            # learns the outcome.
            return _page(
                200,
                "Wrong account",
                "<p>You signed in as another user; the action was not confirmed.</p>",
                _AUTH_DONE_SCRIPT,
            )
        return _page(
            200, "Done", "<p>Thank you. You may now close this window.</p>", _AUTH_DONE_SCRIPT
        )

    async def _finish_login(self, user_id: str, redirect_url: str) -> Response:
        account = await self.accounts.accounts.get(user_id)
        if account is None:
            with contextlib.suppress(UserIdTaken):  # created meanwhile: log in to it
                await self.accounts.create_account(user_id, None)
        elif account.deactivated:
            return _page(403, "Account deactivated", "<p>This account has been deactivated.</p>")
        token = await self.accounts.tokens.create_login_token(user_id, SSO_LOGIN_TOKEN_LIFETIME_MS)
        target = with_login_token(redirect_url, token)
        client = urlsplit(redirect_url).netloc or redirect_url
        return _page(
            200,
            "Continue to your client",
            f"<p>You are signed in as {html.escape(user_id)}. Continue to "
            f"<strong>{html.escape(client)}</strong>? It will get access to your account. "
            "If you did not start this sign-in, close this window.</p>"
            f'<p><a href="{html.escape(target)}">Continue</a></p>',
        )

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        return [
            ("GET", f"{V3}/login/sso/redirect", self.redirect),
            ("GET", f"{V3}/login/sso/redirect/{{idpId}}", self.redirect_idp),
            ("GET", f"{V3}/login/cas/redirect", self.redirect),
            ("GET", CALLBACK_PATH, self.ticket),
            ("GET", f"{V3}/login/cas/ticket", self.ticket),
            ("GET", f"{CLIENT}/v3/auth/m.login.sso/fallback/web", self.fallback),
        ]

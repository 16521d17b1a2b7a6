"""Re-authentication of a signed-in user before a sensitive operation.

Spec: client-server-api "User-Interactive Authentication API" (the endpoints that ask
for it: ``/account/password``, ``/account/deactivate``, ``/devices``,
``/delete_devices``, ``/account/3pid/add``, ``/login/get_token``), and "SSO during
User-Interactive Authentication".

These endpoints all run UIA against the same flows: the ones
:meth:`ranvier.users.service.AccountService.reauth_flows` offers (``m.login.password``,
and ``m.login.sso`` when SSO is configured), checked for the requesting user. The
session is bound to the request's method and path and to that user
(:meth:`ranvier.users.uia.UserInteractiveAuth.begin`). An endpoint that validates its
parameters before asking for authentication calls :meth:`Reauth.begin`, checks
``session.params``, then :meth:`Reauth.complete`; one with nothing to check calls
:meth:`Reauth.authenticate`.
"""

from __future__ import annotations

from typing import Any

from ranvier.http.types import Request
from ranvier.users.service import AccountService
from ranvier.users.uia import UiaSession, UserInteractiveAuth


class Reauth:
    """UIA with the re-authentication flows of :class:`AccountService`."""

    def __init__(self, accounts: AccountService, uia: UserInteractiveAuth) -> None:
        self.accounts = accounts
        self.uia = uia

    async def begin(
        self, request: Request, user_id: str, auth: object, params: dict[str, Any] | None = None
    ) -> UiaSession:
        """Find or start ``user_id``'s session for this request; ``session.params`` are
        the parameters the operation must use (``params`` or the remembered ones)."""
        return await self.uia.begin(
            auth, method=request.method, path=request.path, request=params, user_id=user_id
        )

    async def complete(self, session: UiaSession, user_id: str, auth: object) -> None:
        """Run the submitted stage; return once ``user_id`` proved who they are, else
        raise the UIA 401."""
        await self.uia.complete(
            session,
            auth,
            flows=self.accounts.reauth_flows(),
            checkers=self.accounts.reauth_checkers(user_id),
        )

    async def authenticate(
        self, request: Request, user_id: str, auth: object, params: dict[str, Any] | None = None
    ) -> UiaSession:
        """:meth:`begin` then :meth:`complete`; returns the session."""
        session = await self.begin(request, user_id, auth, params)
        await self.complete(session, user_id, auth)
        return session

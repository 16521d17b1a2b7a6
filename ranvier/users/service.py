"""Account operations composed from the stores: create, log in and out, refresh,
change password, delete devices, deactivate.

Each operation that removes credentials deletes rows in one transaction and then
evicts the token cache (:class:`~ranvier.users.tokens.TokenStore`), so the old token
is refused on the next request. Password hashing and checking run in a worker thread
(:mod:`ranvier.users.passwords`). The handlers in :mod:`ranvier.api.client` call these
methods and turn the results into JSON; the spec sections are cited per method.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ranvier.db.api import Database
from ranvier.http.types import MatrixError
from ranvier.users.account_data import AccountDataStore
from ranvier.users.accounts import Account, AccountStore
from ranvier.users.devices import Device, DeviceStore
from ranvier.users.erasure import ErasedUsers
from ranvier.users.passwords import check_password, hash_password
from ranvier.users.profiles import ProfileService
from ranvier.users.threepids import ThreepidService
from ranvier.users.tokens import IssuedTokens, TokenStore, new_device_id
from ranvier.users.uia import StageChecker, StageFailed, UiaSession

DEFAULT_ACCESS_TOKEN_LIFETIME_MS = 5 * 60 * 1000

DeviceListener = Callable[[str, list[str], str], Awaitable[None]]
"""``await listener(user_id, device_ids, change)`` with ``change`` one of
``"created"``, ``"renamed"``, ``"deleted"``."""
"""Lifetime of access tokens issued to clients that support refresh tokens."""


@dataclass(frozen=True, slots=True)
class Session:
    """The result of a login or a registration that logs in."""

    user_id: str
    device_id: str
    tokens: IssuedTokens

    def to_client(self, server_name: str) -> dict[str, Any]:
        """The common body of the /login and /register responses."""
        body: dict[str, Any] = {
            "user_id": self.user_id,
            "access_token": self.tokens.access_token,
            "device_id": self.device_id,
            "home_server": server_name,
        }
        if self.tokens.refresh_token is not None:
            body["refresh_token"] = self.tokens.refresh_token
        if self.tokens.expires_in_ms is not None:
            body["expires_in_ms"] = self.tokens.expires_in_ms
        return body


class AccountService:
    """The account-level operations behind the Client-Server API."""

    def __init__(
        self,
        db: Database,
        server_name: str,
        *,
        accounts: AccountStore,
        devices: DeviceStore,
        tokens: TokenStore,
        profiles: ProfileService,
        account_data: AccountDataStore,
        bcrypt_cost: int,
        access_token_lifetime_ms: int = DEFAULT_ACCESS_TOKEN_LIFETIME_MS,
        threepids: ThreepidService | None = None,
    ) -> None:
        self.db = db
        self.threepids = threepids
        self.server_name = server_name
        self.accounts = accounts
        self.devices = devices
        self.tokens = tokens
        self.profiles = profiles
        self.account_data = account_data
        self.bcrypt_cost = bcrypt_cost
        self.access_token_lifetime_ms = access_token_lifetime_ms
        self._dummy: str | None = None
        self.sso_enabled = False
        """Set by the composition root when an SSO provider is configured: then
        re-authentication may also use ``m.login.sso``."""
        self.device_listeners: list[DeviceListener] = []
        self.account_listeners: list[Callable[[str], Awaitable[None]]] = []
        """``await listener(user_id)`` after an account is created (the user directory
        lists it when every local user is searchable)."""
        self.deactivation_listeners: list[Callable[[str, bool], Awaitable[None]]] = []
        """``await listener(user_id, erase)`` after an account is deactivated (other
        components forget what they keep for the user, e.g. push rules)."""
        """Told after a device was created, renamed or deleted (the end-to-end
        encryption component tracks device lists with it)."""

    async def _dummy_hash(self) -> str:
        """A hash at the configured cost, checked when the user does not exist so a
        failed login costs the same time either way."""
        if self._dummy is None:
            self._dummy = await hash_password(secrets.token_urlsafe(16), self.bcrypt_cost)
        return self._dummy

    async def hash_password(self, password: str) -> str:
        """A bcrypt hash of ``password`` at the configured cost (in a worker thread)."""
        return await hash_password(password, self.bcrypt_cost)

    def user_id_for(self, localpart: str) -> str:
        """``@localpart:server_name``."""
        return f"@{localpart}:{self.server_name}"

    def is_local(self, user_id: str) -> bool:
        """True if ``user_id`` belongs to this server."""
        return user_id.partition(":")[2] == self.server_name

    # -- creation ----------------------------------------------------------------------

    async def create_account(
        self,
        user_id: str,
        password: str | None,
        *,
        is_guest: bool = False,
        admin: bool = False,
        user_type: str | None = None,
        displayname: str | None = None,
        password_hash: str | None = None,
    ) -> Account:
        """Create an account (raises ``UserIdTaken``); sets the default display name.

        Give either ``password`` or an already computed ``password_hash`` (or neither,
        for accounts that cannot log in with a password). The initial display name is
        the localpart unless given (as other servers do, so members have a name before
        they set one).
        """
        if password is not None:
            password_hash = await self.hash_password(password)
        account = await self.accounts.create(
            user_id, password_hash, is_guest=is_guest, is_admin=admin, user_type=user_type
        )
        name = displayname if displayname is not None else user_id[1:].partition(":")[0]
        await self.profiles.store.set_field(user_id, "displayname", name)
        for listener in list(self.account_listeners):
            await listener(user_id)
        return account

    async def start_session(
        self,
        user_id: str,
        device_id: str | None,
        display_name: str | None,
        *,
        refreshable: bool,
        seen_from: tuple[str, str | None] | None = None,
    ) -> Session:
        """Create (or reuse) a device and issue tokens for it.

        If the client names an existing device, its previous tokens are revoked
        (client-server-api "Relationship between access tokens and devices").
        """
        device_id = device_id or new_device_id()
        async with self.db.transaction() as conn:
            created = await self.devices.ensure(conn, user_id, device_id, display_name, seen_from)
            if not created:
                await self.tokens.revoke_devices_in(conn, user_id, [device_id])
            issued = await self.tokens.issue(
                conn,
                user_id,
                device_id,
                refreshable=refreshable,
                lifetime_ms=self.access_token_lifetime_ms,
            )
        if not created:
            self.tokens.evict(user_id, [device_id])
        else:
            await self._tell_devices(user_id, [device_id], "created")
        return Session(user_id, device_id, issued)

    async def _tell_devices(self, user_id: str, device_ids: list[str], change: str) -> None:
        for listener in list(self.device_listeners):
            await listener(user_id, device_ids, change)

    # -- login ---------------------------------------------------------------------------

    async def resolve_login_user(self, user: str) -> Account | None:
        """The local account a login names (full ID or localpart), or None.

        Exact match first, then a unique case-insensitive match (IDs registered before
        the grammar required lower case).
        """
        user_id = user if user.startswith("@") else self.user_id_for(user)
        if not self.is_local(user_id):
            return None
        account = await self.accounts.get(user_id)
        if account is not None:
            return account
        candidates = await self.accounts.get_case_insensitive(user_id)
        return candidates[0] if len(candidates) == 1 else None

    async def account_for_threepid(self, medium: str, address: str) -> Account | None:
        """The account a 3PID (``m.id.thirdparty`` identifier) is bound to, or None."""
        if self.threepids is None:
            return None
        user_id = await self.threepids.user_for(medium, address)
        return None if user_id is None else await self.accounts.get(user_id)

    async def check_login_password(self, user: str | Account | None, password: str) -> Account:
        """The account if ``password`` is right; 403 otherwise (same error either way).

        ``user`` is a user ID or localpart, or the account an identifier already
        resolved to (None: no such account). client-server-api "Login": M_FORBIDDEN on
        bad credentials, M_USER_DEACTIVATED for a deactivated account (only after the
        password matched is that revealed; deactivated accounts have no password, so
        they always fail the same way).
        """
        account = await self.resolve_login_user(user) if isinstance(user, str) else user
        if account is None or account.is_guest:
            # Hash anyway so timing does not reveal which user IDs exist.
            await check_password(password, await self._dummy_hash())
            raise MatrixError(403, "M_FORBIDDEN", "Invalid username or password")
        if account.deactivated:
            raise MatrixError(403, "M_USER_DEACTIVATED", "This account has been deactivated")
        if not await check_password(password, account.password_hash):
            raise MatrixError(403, "M_FORBIDDEN", "Invalid username or password")
        return account

    async def check_password_for(self, user_id: str, password: str) -> bool:
        """True if ``password`` is the current password of ``user_id`` (for UIA)."""
        account = await self.accounts.get(user_id)
        if account is None or account.deactivated:
            return False
        return await check_password(password, account.password_hash)

    def password_stage(self, user_id: str) -> StageChecker:
        """The ``m.login.password`` UIA checker for an authenticated ``user_id``.

        client-server-api "Password-based": the auth dict carries an ``identifier``
        (``m.id.user``, full ID or localpart; the deprecated top-level ``user`` is
        accepted too) and ``password``. A wrong password, or an identifier that names
        no account, fails the stage (401, the client may retry). Right credentials of
        *another* account fail the request with 403 ``M_FORBIDDEN``: the stage proved
        who the client is, and that user may not act for the requester (compare the
        spec's rule for an unknown 3PID identifier: "respond with 403 Forbidden").
        """

        async def check(auth: dict[str, Any], session: UiaSession) -> None:
            password = auth.get("password")
            identifier = auth.get("identifier")
            user: object = auth.get("user")
            if not isinstance(password, str):
                raise StageFailed("M_FORBIDDEN", "Invalid username or password")
            if isinstance(identifier, dict) and identifier.get("type") == "m.id.thirdparty":
                medium, address = identifier.get("medium"), identifier.get("address")
                if not isinstance(medium, str) or not isinstance(address, str):
                    raise StageFailed("M_FORBIDDEN", "Invalid third-party identifier")
                account = await self.account_for_threepid(medium, address)
                if account is None:
                    # "In the case that the homeserver does not know about the supplied
                    # 3PID, the homeserver must respond with 403 Forbidden."
                    raise MatrixError(403, "M_FORBIDDEN", "Unknown third-party identifier")
            else:
                if isinstance(identifier, dict):
                    if identifier.get("type") != "m.id.user":
                        raise StageFailed("M_FORBIDDEN", "Unsupported identifier type")
                    user = identifier.get("user")
                if user is None:
                    user = user_id
                if not isinstance(user, str):
                    raise StageFailed("M_FORBIDDEN", "Invalid username or password")
                account = await self.resolve_login_user(user)
            if account is None:
                await check_password(password, await self._dummy_hash())
                raise StageFailed("M_FORBIDDEN", "Invalid username or password")
            if not await self.check_password_for(account.user_id, password):
                raise StageFailed("M_FORBIDDEN", "Invalid username or password")
            if account.user_id != user_id:
                raise MatrixError(
                    403, "M_FORBIDDEN", "The authenticated user is not the requesting user"
                )

        return check

    def reauth_flows(self) -> list[list[str]]:
        """The UIA flows that re-authenticate a logged-in user (password, and SSO
        through the fallback page when configured; client-server-api "SSO during
        User-Interactive Authentication")."""
        flows = [["m.login.password"]]
        if self.sso_enabled:
            flows.append(["m.login.sso"])
        return flows

    def reauth_checkers(self, user_id: str) -> dict[str, StageChecker]:
        """Checkers for :meth:`reauth_flows`. ``m.login.sso`` is completed in a browser
        (:meth:`UserInteractiveAuth.complete_out_of_band`); submitting it through the
        API only fails with a hint."""

        async def sso(auth: dict[str, Any], session: UiaSession) -> None:
            raise StageFailed(
                "M_FORBIDDEN",
                "Complete m.login.sso at /_matrix/client/v3/auth/m.login.sso/fallback/web",
            )

        return {"m.login.password": self.password_stage(user_id), "m.login.sso": sso}

    # -- logout / devices ----------------------------------------------------------------

    async def logout(self, token_hash: str) -> None:
        """Invalidate one access token; its device goes too (client-server-api "logout").

        The spec: "the access token ... is invalidated ... the device associated with
        the access token is also deleted".
        """
        row = await self.db.fetchone(
            "SELECT user_id, device_id FROM access_tokens WHERE token_hash = $1", token_hash
        )
        if row is None:
            await self.tokens.revoke_access_token(token_hash)
            return
        await self.delete_devices(str(row[0]), [str(row[1])])

    async def logout_all(self, user_id: str) -> None:
        """Invalidate every token and delete every device of the user (/logout/all)."""
        devices = [d.device_id for d in await self.devices.all_for(user_id)]
        await self.delete_devices(user_id, devices)
        await self.tokens.revoke_all_for_user(user_id)

    async def delete_devices(self, user_id: str, device_ids: list[str]) -> None:
        """Delete devices and all their tokens in one transaction, then evict the cache."""
        if not device_ids:
            return
        async with self.db.transaction() as conn:
            await self.tokens.revoke_devices_in(conn, user_id, device_ids)
            await self.devices.delete_in(conn, user_id, device_ids)
        self.tokens.evict(user_id, device_ids)
        await self._tell_devices(user_id, device_ids, "deleted")

    async def rename_device(self, user_id: str, device_id: str, name: str | None) -> bool:
        """Set a device's display name; False if it does not exist."""
        if not await self.devices.set_display_name(user_id, device_id, name):
            return False
        await self._tell_devices(user_id, [device_id], "renamed")
        return True

    async def list_devices(self, user_id: str) -> list[Device]:
        """All devices of a user."""
        return await self.devices.all_for(user_id)

    # -- password and deactivation -------------------------------------------------------

    async def change_password(
        self,
        user_id: str,
        new_password_hash: str,
        *,
        logout_devices: bool,
        keep_token_hash: str | None,
    ) -> None:
        """Set a new password (given as its hash, see :meth:`hash_password`); optionally
        log out every other device.

        password_management.yaml: ``logout_devices`` (default true) revokes the user's
        other access tokens and their devices; the requesting token is kept.
        """
        await self.accounts.set_password_hash(user_id, new_password_hash)
        if not logout_devices:
            return
        keep_device: str | None = None
        if keep_token_hash is not None:
            row = await self.db.fetchone(
                "SELECT device_id FROM access_tokens WHERE token_hash = $1", keep_token_hash
            )
            keep_device = None if row is None else str(row[0])
        others = [
            d.device_id for d in await self.devices.all_for(user_id) if d.device_id != keep_device
        ]
        await self.delete_devices(user_id, others)
        await self.tokens.revoke_all_for_user(user_id, except_token_hash=keep_token_hash)

    async def deactivate(self, user_id: str, *, erase: bool) -> None:
        """Deactivate: no more logins, every device and token gone; ``erase`` clears data.

        account_deactivation.yaml: the user ID cannot be reused; with ``erase`` the
        server should forget the profile and account data, and serve the user's
        events redacted to servers from then on (:mod:`ranvier.users.erasure`).
        """
        await self.accounts.mark_deactivated(user_id)
        await self.logout_all(user_id)
        if self.threepids is not None:
            # The addresses no longer log anyone in and may be used by other accounts.
            await self.threepids.store.delete_user(user_id)
        if erase:
            await ErasedUsers(self.db).mark(user_id)
            await self.profiles.erase(user_id)
            await self.account_data.delete_user(user_id)
        for listener in list(self.deactivation_listeners):
            await listener(user_id, erase)

    async def touch_device(
        self, user_id: str, device_id: str, ip: str, user_agent: str | None
    ) -> None:
        """Record the last-seen connection of a device."""
        await self.devices.record_seen(user_id, device_id, int(time.time() * 1000), ip, user_agent)

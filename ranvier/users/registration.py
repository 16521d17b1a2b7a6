"""Account registration (client-server-api "Account registration", registration.yaml,
"Token-authenticated registration", "Google ReCaptcha").

Theory of operation
-------------------
``POST /register`` with ``kind=user`` is User-Interactive: the offered flow is built
from the configuration — ``m.login.recaptcha`` when a captcha is configured,
``m.login.registration_token`` when tokens are required, and ``m.login.dummy`` when
neither is (so the server still answers the first request with a 401 and a session,
as the spec requires). The requested user name is mapped to a localpart (lower-cased,
then checked against the user ID grammar; all-digit localparts are kept for guests)
and checked for availability *before* UIA, as registration.yaml demands; it is
checked again when the account is created, since someone may have taken it meanwhile.
A registration token is counted once per session, when the flow is complete.

The request parameters are remembered in the UIA session (see
:mod:`ranvier.users.uia`), the password only as its bcrypt hash; the account created
is recorded there too, so a finished session presented again logs the same account
in again on the same device instead of failing or creating a second account.

``kind=guest`` skips UIA and ignores every parameter but
``initial_device_display_name``; guests get numeric localparts.

A guest becomes a full user (client-server-api "Guest Access": "the ordinary
``register`` flow, but specifying the additional POST parameter ``guest_access_token``
containing the guest's access token", with ``username`` set to the guest's localpart)
through the same flow: the token must be a guest's (403 ``M_FORBIDDEN`` otherwise, as
for a ``username`` that is not that guest's), and once UIA is done the account keeps
its user ID, gets the password and loses its guest flag; the guest's sessions end and
the answer logs the upgraded account in. Only the guest's user ID is remembered in the
UIA session, never the token.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ranvier.core.ids import is_valid_localpart
from ranvier.http.parse import optional_bool, optional_str
from ranvier.http.types import MatrixError
from ranvier.users.accounts import UserIdTaken
from ranvier.users.registration_tokens import RegistrationTokenStore
from ranvier.users.service import AccountService
from ranvier.users.threepids import ThreepidInUse
from ranvier.users.tokens import new_device_id
from ranvier.users.uia import StageChecker, StageFailed, UiaSession, UserInteractiveAuth

if TYPE_CHECKING:
    import aiohttp

logger = logging.getLogger(__name__)

MAX_USER_ID_BYTES = 255
MAX_PASSWORD_CHARS = 512


@dataclass(frozen=True, slots=True)
class RegistrationPolicy:
    """The registration settings (from ``client_api`` in the config)."""

    enabled: bool = False
    guests_enabled: bool = False
    requires_token: bool = False
    recaptcha_enabled: bool = False
    recaptcha_public_key: str = ""
    recaptcha_private_key: str = ""
    recaptcha_bypass_secret: str = ""
    recaptcha_siteverify_api: str = "https://www.google.com/recaptcha/api/siteverify"
    recaptcha_verify_tls: bool = True


class RegistrationService:
    """Implements ``/register``, ``/register/available`` and the token validity check."""

    def __init__(
        self,
        accounts: AccountService,
        uia: UserInteractiveAuth,
        registration_tokens: RegistrationTokenStore,
        policy: RegistrationPolicy,
    ) -> None:
        self.accounts = accounts
        self.uia = uia
        self.registration_tokens = registration_tokens
        self.policy = policy
        self._http: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the HTTP client used for captcha verification."""
        if self._http is not None:
            await self._http.close()
            self._http = None

    # -- user names --------------------------------------------------------------------

    def localpart_for(self, username: str) -> str:
        """Map a requested user name to a valid localpart or raise ``M_INVALID_USERNAME``.

        The mapping is lower-casing (the grammar only has lower-case letters); anything
        else outside ``a-z 0-9 . _ = - / +`` is refused rather than rewritten, so users
        get the ID they asked for or a clear error. A full user ID on this server is
        accepted and reduced to its localpart.
        """
        if username.startswith("@") and ":" in username:
            username, _, server = username[1:].partition(":")
            if server != self.accounts.server_name:
                raise MatrixError(400, "M_INVALID_USERNAME", "User ID is not on this server")
        localpart = username.lower()
        if not is_valid_localpart(localpart, historical=False):
            raise MatrixError(
                400,
                "M_INVALID_USERNAME",
                "User ID may only contain a-z, 0-9, and the characters . _ = - / +",
            )
        if localpart.isdigit():
            raise MatrixError(400, "M_INVALID_USERNAME", "Numeric user IDs are reserved for guests")
        if len(self.accounts.user_id_for(localpart).encode("utf-8")) > MAX_USER_ID_BYTES:
            raise MatrixError(400, "M_INVALID_USERNAME", "User ID is too long")
        return localpart

    async def ensure_available(self, localpart: str) -> str:
        """The user ID for ``localpart``, or 400 ``M_USER_IN_USE`` if it is taken."""
        user_id = self.accounts.user_id_for(localpart)
        if await self.accounts.accounts.exists(user_id):
            raise MatrixError(400, "M_USER_IN_USE", "Desired user ID is already taken.")
        return user_id

    # -- UIA -----------------------------------------------------------------------------

    def _captcha_configured(self) -> bool:
        return bool(self.policy.recaptcha_private_key and self.policy.recaptcha_siteverify_api)

    def flows(self) -> list[list[str]]:
        """The registration flows this configuration offers: the required stages (or
        ``m.login.dummy`` when none are), and, when this server can send mail, the
        same followed by ``m.login.email.identity``, which also binds the address to
        the new account.

        A captcha that is configured (keys set) but not required is offered as an
        optional path, ``m.login.recaptcha`` then ``m.login.dummy``: clients that show
        a captcha whenever a server has one can complete it, and it is checked for
        real, while the plain flow stays open."""
        stages: list[str] = []
        if self.policy.recaptcha_enabled:
            stages.append("m.login.recaptcha")
        if self.policy.requires_token:
            stages.append("m.login.registration_token")
        flows = [stages or ["m.login.dummy"]]
        if not stages and self._captcha_configured():
            flows.append(["m.login.recaptcha", "m.login.dummy"])
        threepids = self.accounts.threepids
        if threepids is not None and threepids.email_enabled:
            flows.append([*stages, "m.login.email.identity"])
        return flows

    def params(self) -> dict[str, Any]:
        """UIA ``params`` (the captcha site key)."""
        if self.policy.recaptcha_enabled or self._captcha_configured():
            return {"m.login.recaptcha": {"public_key": self.policy.recaptcha_public_key}}
        return {}

    def _checkers(self, client_ip: str) -> dict[str, StageChecker]:
        async def dummy(auth: dict[str, Any], session: UiaSession) -> None:
            return None

        async def registration_token(auth: dict[str, Any], session: UiaSession) -> None:
            token = auth.get("token")
            if not isinstance(token, str) or not await self.registration_tokens.is_valid(token):
                raise StageFailed("M_FORBIDDEN", "Invalid registration token")
            session.data["registration_token"] = token

        async def recaptcha(auth: dict[str, Any], session: UiaSession) -> None:
            response = auth.get("response")
            if not isinstance(response, str) or not response:
                raise StageFailed("M_CAPTCHA_NEEDED", "Captcha response is required")
            if not await self._verify_captcha(response, client_ip):
                raise StageFailed("M_CAPTCHA_INVALID", "Captcha verification failed")

        async def email_identity(auth: dict[str, Any], session: UiaSession) -> None:
            # client-server-api "Email-based (identity / homeserver)": threepid_creds
            # name a validation session this server completed.
            threepids = self.accounts.threepids
            found = (
                None if threepids is None else await threepids.validated(auth.get("threepid_creds"))
            )
            if threepids is None or found is None:
                raise StageFailed("M_UNAUTHORIZED", "The email address has not been validated")
            medium, address, validated_ts = found
            if await threepids.store.owner(medium, address) is not None:
                raise StageFailed("M_THREEPID_IN_USE", "The address is already in use")
            session.data["threepid"] = [medium, address, validated_ts]

        return {
            "m.login.dummy": dummy,
            "m.login.registration_token": registration_token,
            "m.login.recaptcha": recaptcha,
            "m.login.email.identity": email_identity,
        }

    async def _verify_captcha(self, response: str, client_ip: str) -> bool:
        """Ask the siteverify API whether ``response`` solves the captcha."""
        bypass = self.policy.recaptcha_bypass_secret
        if bypass and secrets.compare_digest(response, bypass):
            return True
        import aiohttp  # imported on first use: an idle server does not need the client

        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        form = {
            "secret": self.policy.recaptcha_private_key,
            "response": response,
            "remoteip": client_ip,
        }
        try:
            async with self._http.post(
                self.policy.recaptcha_siteverify_api,
                data=form,
                ssl=self.policy.recaptcha_verify_tls,
            ) as resp:
                if resp.status != 200:
                    return False
                result = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return False
        return isinstance(result, dict) and result.get("success") is True

    # -- registration --------------------------------------------------------------------

    async def register(
        self,
        body: dict[str, Any],
        *,
        client_ip: str,
        method: str,
        path: str,
        user_agent: str | None = None,
    ) -> dict[str, Any]:
        """``POST /register?kind=user``: validate, run UIA, create, log in.

        The request's parameters are remembered in the UIA session (the password as
        its bcrypt hash), so later requests of the session may carry only ``auth``.
        Re-submitting a finished session returns the result of the same call again
        (client-server-api UIA: "the result of the API call if all stages were
        completed"): the same user, logged in again on the same device, whose
        earlier access token is thereby replaced.
        """
        if not self.policy.enabled:
            raise MatrixError(403, "M_FORBIDDEN", "Registration is disabled")
        request = await self._request_params(body)
        session = await self.uia.begin(body.get("auth"), method=method, path=path, request=request)
        params = session.params
        if session.replay and isinstance(session.data.get("registered"), dict):
            return await self._login_registered(
                session.data["registered"], params, client_ip, user_agent
            )
        username = params.get("username")
        guest = params.get("guest_user_id")
        if isinstance(guest, str):
            user_id: str | None = self._guest_to_upgrade(guest, username)
        else:
            user_id = (
                await self.ensure_available(self.localpart_for(username))
                if isinstance(username, str)
                else None
            )
        await self.uia.complete(
            session,
            body.get("auth"),
            flows=self.flows(),
            checkers=self._checkers(client_ip),
            params=self.params(),
        )
        token = session.data.get("registration_token")
        if isinstance(token, str) and not session.data.get("registration_token_used"):
            if not await self.registration_tokens.use(token):
                raise MatrixError(403, "M_FORBIDDEN", "The registration token is no longer valid")
            session.data["registration_token_used"] = True
            await self.uia.save(session)
        password_hash = params.get("password_hash")
        hashed = password_hash if isinstance(password_hash, str) else None
        if isinstance(guest, str):
            if not await self.accounts.accounts.upgrade_guest(guest, hashed):
                raise MatrixError(403, "M_FORBIDDEN", "This account is not a guest any more")
            await self.accounts.logout_all(guest)
            user_id = guest
        else:
            try:
                if user_id is None:
                    user_id = await self._create_generated(password_hash)
                else:
                    await self.accounts.create_account(user_id, None, password_hash=hashed)
            except UserIdTaken:
                raise MatrixError(
                    400, "M_USER_IN_USE", "Desired user ID is already taken."
                ) from None
        await self._bind_threepid(user_id, session.data.get("threepid"))
        device_id = params.get("device_id")
        registered = {
            "user_id": user_id,
            "device_id": device_id if isinstance(device_id, str) else new_device_id(),
        }
        session.data["registered"] = registered
        await self.uia.save(session)
        return await self._login_registered(registered, params, client_ip, user_agent)

    def _guest_to_upgrade(self, guest: str, username: object) -> str:
        """The guest's user ID when ``username`` names that guest (403 otherwise)."""
        if not isinstance(username, str):
            raise MatrixError(403, "M_FORBIDDEN", "Upgrading a guest needs its username")
        named = username if username.startswith("@") else self.accounts.user_id_for(username)
        if named.lower() != guest.lower():
            raise MatrixError(403, "M_FORBIDDEN", "The guest access token is another user's")
        return guest

    async def _bind_threepid(self, user_id: str, threepid: object) -> None:
        """Bind the address the email stage validated to the new account."""
        threepids = self.accounts.threepids
        if threepids is None or not isinstance(threepid, list) or len(threepid) != 3:
            return
        medium, address, validated_ts = threepid
        try:
            await threepids.store.bind(user_id, str(medium), str(address), int(validated_ts))
        except ThreepidInUse:
            # Taken by another registration between the stage and now: the account
            # exists, only without the address.
            logger.warning("%s: %s was bound meanwhile to another account", user_id, address)

    async def _request_params(self, body: dict[str, Any]) -> dict[str, Any]:
        """The registration parameters this request gives, type-checked; the password
        replaced by its hash so no plain password is stored in the UIA session."""
        request: dict[str, Any] = {}
        for key in ("username", "device_id", "initial_device_display_name"):
            value = optional_str(body, key)
            if value is not None:
                request[key] = value
        for key in ("inhibit_login", "refresh_token"):
            flag = optional_bool(body, key)
            if flag is not None:
                request[key] = flag
        guest_token = optional_str(body, "guest_access_token")
        if guest_token is not None:
            info = await self.accounts.tokens.lookup(guest_token)
            if info is None or not info.is_guest:
                raise MatrixError(403, "M_FORBIDDEN", "guest_access_token is not a guest's")
            request["guest_user_id"] = info.user_id
        password = optional_str(body, "password")
        if password is not None:
            if len(password) > MAX_PASSWORD_CHARS:
                raise MatrixError(400, "M_INVALID_PARAM", "Password is too long")
            request["password_hash"] = await self.accounts.hash_password(password)
        return request

    async def _login_registered(
        self,
        registered: dict[str, Any],
        params: dict[str, Any],
        client_ip: str,
        user_agent: str | None,
    ) -> dict[str, Any]:
        """The /register answer for the account of this session (``inhibit_login``: no
        device and no token, registration.yaml)."""
        user_id = str(registered["user_id"])
        if params.get("inhibit_login") is True:
            return {"user_id": user_id, "home_server": self.accounts.server_name}
        display_name = params.get("initial_device_display_name")
        started = await self.accounts.start_session(
            user_id,
            str(registered["device_id"]),
            display_name if isinstance(display_name, str) else None,
            refreshable=params.get("refresh_token") is True,
            seen_from=(client_ip, user_agent),
        )
        return started.to_client(self.accounts.server_name)

    async def register_guest(
        self, body: dict[str, Any], seen_from: tuple[str, str | None] | None = None
    ) -> dict[str, Any]:
        """``POST /register?kind=guest``: a numeric guest account, logged in."""
        if not self.policy.guests_enabled:
            raise MatrixError(403, "M_FORBIDDEN", "Guest access is disabled")
        display_name = optional_str(body, "initial_device_display_name")
        for _ in range(10):
            user_id = self.accounts.user_id_for(str(secrets.randbelow(10**12) + 1))
            try:
                await self.accounts.create_account(user_id, None, is_guest=True)
            except UserIdTaken:
                continue
            started = await self.accounts.start_session(
                user_id, None, display_name, refreshable=False, seen_from=seen_from
            )
            return started.to_client(self.accounts.server_name)
        raise MatrixError(500, "M_UNKNOWN", "Could not allocate a guest user ID")

    async def _create_generated(self, password_hash: object) -> str:
        """Create an account under a fresh server-chosen localpart (registration.yaml:
        "If omitted, the homeserver MUST generate a Matrix ID local part")."""
        for _ in range(10):
            user_id = self.accounts.user_id_for("u" + secrets.token_hex(6))
            try:
                await self.accounts.create_account(
                    user_id,
                    None,
                    password_hash=password_hash if isinstance(password_hash, str) else None,
                )
            except UserIdTaken:
                continue
            return user_id
        raise MatrixError(500, "M_UNKNOWN", "Could not allocate a user ID")

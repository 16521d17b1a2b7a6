"""The composition root: builds every service once from the :class:`Config` and wires it.

Theory of operation
-------------------
:meth:`Homeserver.open` opens the database named by ``global.database``, applies the
migrations, and constructs the server: stores, then services (each receives what it
needs as constructor arguments: no service locator, no globals), then the API
modules, whose ``routes()`` all go into ONE :class:`~ranvier.http.router.Router`. Each
handler is wrapped with :func:`~ranvier.api.auth.with_authenticator` so handlers of
other components can call :func:`ranvier.api.auth.require_user` without holding the
authenticator. Federation (:class:`~ranvier.federation.service.Federation`: keyring,
outbound client, X-Matrix authenticator) is built from the signing keys of
``global.private_key``; the key endpoints are always routed, the federation endpoints
unless ``global.disable_federation``. ``/metrics`` is routed only when
``global.metrics.enabled`` (with HTTP basic auth when configured).

:meth:`Homeserver.start` listens on the plain and TLS addresses with one
:class:`~ranvier.http.server.HttpServer`; :meth:`Homeserver.stop` drains it (stop
accepting, finish in-flight requests within the grace period), waits for background
writes, then closes the HTTP client and the database. :func:`run_homeserver` is what
``ranvier run`` awaits until it is cancelled; :func:`create_account` is
``ranvier create-account``.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from ranvier.api.auth import Authenticator, with_authenticator
from ranvier.api.client.account import AccountApi
from ranvier.api.client.account_data import AccountDataApi
from ranvier.api.client.admin import AdminApi
from ranvier.api.client.capabilities import CapabilitiesApi
from ranvier.api.client.common import RouteDef
from ranvier.api.client.devices import DevicesApi
from ranvier.api.client.events_stream import EventsApi
from ranvier.api.client.filters import FiltersApi
from ranvier.api.client.keys import KeysClientApi
from ranvier.api.client.login import LoginApi
from ranvier.api.client.logout import LogoutApi
from ranvier.api.client.messages import MessagesApi
from ranvier.api.client.openid import OpenIdApi
from ranvier.api.client.presence import PresenceApi, count_activity
from ranvier.api.client.profile import ProfileApi
from ranvier.api.client.read_markers import ReadMarkersApi
from ranvier.api.client.receipts import ReceiptsApi
from ranvier.api.client.register import RegisterApi
from ranvier.api.client.rooms_create import CreateRoomApi
from ranvier.api.client.rooms_directory import DirectoryApi
from ranvier.api.client.rooms_event import EventApi
from ranvier.api.client.rooms_hierarchy import HierarchyApi
from ranvier.api.client.rooms_membership import MembershipApi
from ranvier.api.client.rooms_redact import RedactApi
from ranvier.api.client.rooms_relations import RelationsApi
from ranvier.api.client.rooms_report import ReportApi
from ranvier.api.client.rooms_send import SendApi
from ranvier.api.client.rooms_state import StateApi
from ranvier.api.client.rooms_timestamp import TimestampApi
from ranvier.api.client.rooms_upgrade import UpgradeApi
from ranvier.api.client.send_to_device import SendToDeviceApi
from ranvier.api.client.sso import SsoApi
from ranvier.api.client.sync import SyncApi
from ranvier.api.client.threepids import ThreepidApi
from ranvier.api.client.typing import TypingApi
from ranvier.api.client.user_directory import UserDirectoryApi
from ranvier.api.client.versions import VersionsApi
from ranvier.api.client.well_known import WellKnownApi
from ranvier.api.federation.devices import FederationDevicesApi
from ranvier.api.federation.onbind import OnBindApi
from ranvier.api.federation.openid import FederationOpenIdApi
from ranvier.api.federation.query import FederationQueryApi
from ranvier.api.federation.user_keys import FederationUserKeysApi
from ranvier.api.federation.version import FederationVersionApi
from ranvier.api.keys import KeysApi
from ranvier.api.synapse_admin import SharedSecretRegistrationApi
from ranvier.bus import LocalBus
from ranvier.config import Config
from ranvier.config.keyfile import KeyFileError, ServerKeys, load_server_keys
from ranvier.core.events import JsonDict
from ranvier.core.signing import SigningKey, generate_signing_key
from ranvier.db import Database, open_database
from ranvier.db.migrations import migrate
from ranvier.e2ee.federation_out import DeviceListSender
from ranvier.e2ee.wiring import build_e2ee, connect_federation, connect_notifier, to_device_sender
from ranvier.ephemeral.presence import PresenceService
from ranvier.ephemeral.presence_store import PresenceStore
from ranvier.ephemeral.read_markers import ReadMarkers
from ranvier.ephemeral.receipts import ReceiptService
from ranvier.ephemeral.receipts_store import ReceiptStore
from ranvier.ephemeral.sync_sections import EphemeralStreams
from ranvier.ephemeral.typing import TypingState
from ranvier.federation.edus import FederationEdus
from ranvier.federation.metrics import FederationMetrics
from ranvier.federation.profile_query import RemoteProfiles
from ranvier.federation.rooms import FederationRooms
from ranvier.federation.service import Federation, FederationHooks
from ranvier.federation.third_party import ask_exchange
from ranvier.federation.to_device_edu import to_device_edu_handler
from ranvier.http.app import App, build_app
from ranvier.http.metrics import Metrics, metrics_handler
from ranvier.http.ratelimit import RateLimiter
from ranvier.http.router import Handler, Router
from ranvier.http.server import HttpServer
from ranvier.http.tls import server_context
from ranvier.http.types import MatrixError, Request, Response
from ranvier.push.service import Push
from ranvier.rooms.aliases import AliasService, AliasStore
from ranvier.rooms.directory import DirectoryService
from ranvier.rooms.guest_access import GuestAccess
from ranvier.rooms.hierarchy import HierarchyService
from ranvier.rooms.membership import MembershipService
from ranvier.rooms.outputs import ROOM_EVENTS
from ranvier.rooms.pipeline import RoomInput
from ranvier.rooms.profile_updates import ProfileMemberUpdater
from ranvier.rooms.relations import RelationService
from ranvier.rooms.reports import ReportService, ReportStore
from ranvier.rooms.service import RoomService
from ranvier.rooms.storage import RoomStorage
from ranvier.rooms.summary import RoomSummaries
from ranvier.rooms.third_party_invites import ThirdPartyInvites
from ranvier.rooms.upgrade import UpgradeService
from ranvier.rooms.upgrade_follow import UpgradeFollower
from ranvier.sync.notifier import Notifier
from ranvier.sync.pagination import PaginationService
from ranvier.sync.service import SyncService
from ranvier.sync.timestamps import TimestampLookup
from ranvier.sync.to_device import ToDeviceStore
from ranvier.users.account_data import AccountDataStore
from ranvier.users.accounts import AccountStore
from ranvier.users.cas import CasClient
from ranvier.users.devices import DeviceStore
from ranvier.users.directory import UserDirectory
from ranvier.users.filters import FilterStore
from ranvier.users.identity_bindings import IdentityBindings, IdentityBindingStore
from ranvier.users.identity_client import IdentityClient
from ranvier.users.mailer import Mailer
from ranvier.users.openid import OpenIdTokens
from ranvier.users.profiles import ProfileService, ProfileStore
from ranvier.users.registration import RegistrationPolicy, RegistrationService
from ranvier.users.registration_tokens import RegistrationTokenStore
from ranvier.users.service import DEFAULT_ACCESS_TOKEN_LIFETIME_MS, AccountService
from ranvier.users.threepids import ThreepidService, ThreepidStore
from ranvier.users.tokens import TokenStore
from ranvier.users.uia import UiaStore, UserInteractiveAuth

logger = logging.getLogger(__name__)

DRAIN_GRACE_S = 10.0


async def open_migrated_database(config: Config) -> Database:
    """Open ``global.database`` and bring its schema up to date."""
    dbc = config.database
    db = await open_database(
        dbc.connection_string,
        max_open_conns=dbc.max_open_conns,
        max_idle_conns=dbc.max_idle_conns,
        conn_max_lifetime_seconds=dbc.conn_max_lifetime_seconds,
    )
    try:
        await migrate(db)
    except BaseException:
        await db.close()
        raise
    return db


class _Component(Protocol):
    def routes(self) -> list[RouteDef]: ...


def _registration_policy(config: Config) -> RegistrationPolicy:
    c = config.client_api
    return RegistrationPolicy(
        enabled=not c.registration_disabled,
        guests_enabled=not c.guests_disabled,
        requires_token=c.registration_requires_token,
        recaptcha_enabled=c.enable_registration_captcha,
        recaptcha_public_key=c.recaptcha_public_key,
        recaptcha_private_key=c.recaptcha_private_key,
        recaptcha_bypass_secret=c.recaptcha_bypass_secret,
        recaptcha_siteverify_api=c.recaptcha_siteverify_api,
        recaptcha_verify_tls=not c.recaptcha_disable_tls_validation,
    )


def _rate_limiter(config: Config) -> RateLimiter | None:
    rl = config.client_api.rate_limiting
    if not rl.enabled:
        return None
    exempt = frozenset((*rl.exempt_user_ids, *rl.exempt_ip_addresses))
    return RateLimiter(rl.threshold, rl.cooloff_ms, exempt)


def _server_keys(config: Config) -> ServerKeys:
    """The keys this server signs with and publishes: ``global.private_key`` (and
    ``old_private_keys``), or (when that file does not exist, e.g. a server built
    in-process by tests; ``ranvier run`` refuses to start without it) a fresh key for
    this process only."""
    try:
        return load_server_keys(config)
    except KeyFileError:
        if config.global_.private_key.exists():
            raise
        logger.warning("no signing key at %s: using a temporary one", config.global_.private_key)
        return ServerKeys(generate_signing_key("ephemeral"), ())


class Homeserver:
    """One running server: its database, services, routes and listeners."""

    def __init__(
        self,
        config: Config,
        db: Database,
        *,
        access_token_lifetime_ms: int = DEFAULT_ACCESS_TOKEN_LIFETIME_MS,
        signing_key: SigningKey | None = None,
        federation_hooks: FederationHooks | None = None,
    ) -> None:
        """Build every component over an open, migrated ``db`` (see :meth:`open`)."""
        self.config = config
        self.db = db
        server_name = config.server_name

        # Stores and services, each built once.
        self.tokens = TokenStore(db)
        self.profiles = ProfileService(ProfileStore(db))
        self.account_data = AccountDataStore(db)
        self.filters = FilterStore(db)
        self.registration_tokens = RegistrationTokenStore(db)
        self.uia = UserInteractiveAuth(UiaStore(db))
        c_api = config.client_api
        mailer = Mailer(c_api.email, f"noreply@{server_name}") if c_api.email.enabled else None
        self.threepids = ThreepidService(
            ThreepidStore(db), mailer, c_api.public_base_url, server_name
        )
        self.accounts = AccountService(
            db,
            server_name,
            accounts=AccountStore(db),
            devices=DeviceStore(db),
            tokens=self.tokens,
            profiles=self.profiles,
            account_data=self.account_data,
            bcrypt_cost=config.user_api.bcrypt_cost,
            access_token_lifetime_ms=access_token_lifetime_ms,
            threepids=self.threepids,
        )
        self.registration = RegistrationService(
            self.accounts, self.uia, self.registration_tokens, _registration_policy(config)
        )
        self.cas = CasClient(c_api.cas, c_api.public_base_url) if c_api.cas.enabled else None
        self.accounts.sso_enabled = self.cas is not None
        sso = None if self.cas is None else SsoApi(self.accounts, self.uia, self.cas)
        self.auth = Authenticator(self.accounts)
        self.rate_limiter = _rate_limiter(config)
        self.metrics = Metrics()
        db.set_query_hook(self.metrics.db_seconds.observe)
        self.bus = LocalBus()
        self.server_keys = (
            ServerKeys(signing_key, ()) if signing_key is not None else _server_keys(config)
        )
        self.federation = Federation(config, db, self.server_keys, federation_hooks)
        self.room_storage = RoomStorage(db)
        self.room_input = RoomInput(
            self.room_storage, self.bus, server_name, self.server_keys.signing_key
        )
        self.rooms = RoomService(
            self.room_storage,
            self.room_input,
            AliasStore(db),
            server_name,
            profile_lookup=self.profiles.store.get,
        )
        self.membership = MembershipService(self.rooms)
        self.identity = IdentityClient(
            self.federation.dns,
            self.federation.policy,
            verify_tls=not c_api.identity_servers.disable_tls_validation,
        )
        self.third_party_invites = ThirdPartyInvites(self.rooms, self.membership, self.identity)
        self.identity_bindings = IdentityBindings(
            IdentityBindingStore(db),
            self.threepids.store,
            self.identity,
            server_name,
            self.server_keys.signing_key,
        )
        self.guest_access = GuestAccess(self.rooms, self._is_guest, self.membership.leave)
        self.bus.subscribe(ROOM_EVENTS, self.guest_access.on_room_event)
        self.profiles.add_listener(ProfileMemberUpdater(self.rooms).on_profile_change)
        self.rooms.redaction_policy.is_admin = self._is_admin
        self.relations = RelationService(self.rooms, self.rooms.renderer)
        self.reports = ReportService(self.rooms, ReportStore(db))
        self.room_summaries = RoomSummaries(self.room_storage)
        self.aliases = AliasService(self.rooms.aliases, self.rooms, self._is_admin)
        self.directory = DirectoryService(self.rooms, self.room_summaries, self._is_admin)
        # Typing, receipts, read markers, presence (ranvier.ephemeral).
        self.typing = TypingState()
        self.receipts = ReceiptService(ReceiptStore(db), self.rooms)
        self.read_markers = ReadMarkers(self.account_data, self.receipts)
        presence_config = config.global_.presence
        self.presence = PresenceService(
            PresenceStore(db),
            self.rooms,
            server_name,
            enabled=presence_config.enabled,
            inbound=presence_config.enable_inbound,
            outbound=presence_config.enable_outbound,
        )
        self.bus.subscribe(ROOM_EVENTS, self.presence.on_room_event)
        self.upgrades = UpgradeService(self.rooms, self.aliases)
        self.upgrade_follower = UpgradeFollower(self.rooms, self.rooms.aliases, self.account_data)
        self.bus.subscribe(ROOM_EVENTS, self.upgrade_follower.on_room_event)
        # Push rules, pushers, notification counts, the gateway sender (ranvier.push).
        self.push = Push(
            db,
            self.room_storage,
            self.account_data,
            self.rooms.is_local,
            verify_tls=not c_api.push_disable_tls_validation,
            legacy_mentions=c_api.push_legacy_mention_rules,
            mailer=mailer,
            server_name=server_name,
        )
        self.push.connect(self.bus, self.accounts, self.receipts, self.upgrade_follower)
        self.hierarchy = HierarchyService(self.membership, self.room_summaries)
        self.user_directory = UserDirectory(
            db,
            self.room_storage,
            self.profiles.store,
            self.rooms.is_local,
            search_all_users=config.user_api.user_directory.search_all_users,
        )
        self.bus.subscribe(ROOM_EVENTS, self.user_directory.on_room_event)
        self.profiles.add_listener(self.user_directory.on_profile_change)
        self.accounts.account_listeners.append(self.user_directory.on_account_created)
        self.accounts.deactivation_listeners.append(self.user_directory.on_deactivated)
        federation_on = not config.global_.disable_federation
        self.e2ee = build_e2ee(db, self.accounts, self.federation.client if federation_on else None)

        self.openid_tokens = OpenIdTokens(db, config.user_api.openid_token_lifetime_ms)

        # Routes.
        self.router = Router()
        well_known = WellKnownApi(
            config.global_.well_known_client_name, config.global_.well_known_server_name
        )
        apis: list[_Component] = [
            VersionsApi(self._routed),
            well_known,
            CapabilitiesApi(self.auth, threepid_changes=self.threepids.email_enabled),
            RegisterApi(self.registration, self.rate_limiter),
            LoginApi(
                self.accounts,
                self.auth,
                self.uia,
                self.rate_limiter,
                well_known.well_known_for_login(),
                None if sso is None else sso.identity_providers(),
            ),
            *([] if sso is None else [sso]),
            LogoutApi(self.accounts, self.auth),
            AccountApi(self.accounts, self.auth, self.uia, self.identity_bindings),
            ThreepidApi(
                self.accounts,
                self.auth,
                self.uia,
                self.threepids,
                self.identity_bindings,
                self.rate_limiter,
            ),
            DevicesApi(self.accounts, self.auth, self.uia),
            ProfileApi(
                self.accounts,
                self.auth,
                RemoteProfiles(self.federation.client, server_name).query
                if federation_on
                else None,
            ),
            OpenIdApi(self.openid_tokens, self.auth, server_name),
            FederationOpenIdApi(self.openid_tokens),
            AccountDataApi(self.account_data, self.auth),
            FiltersApi(self.filters, self.auth),
            AdminApi(self.accounts, self.auth),
            SharedSecretRegistrationApi(
                self.registration, config.client_api.registration_shared_secret
            ),
            CreateRoomApi(self.rooms, self.third_party_invites),
            SendApi(self.rooms),
            StateApi(self.rooms),
            EventApi(self.rooms),
            MembershipApi(self.rooms, self.membership, self.guest_access, self.third_party_invites),
            OnBindApi(self.third_party_invites),
            RedactApi(self.rooms),
            RelationsApi(self.relations),
            ReportApi(self.reports),
            DirectoryApi(self.aliases, self.directory),
            TypingApi(self.typing, self.rooms),
            ReceiptsApi(self.receipts, self.read_markers, self.presence),
            ReadMarkersApi(self.read_markers, self.presence),
            PresenceApi(self.presence),
            UpgradeApi(self.upgrades),
            HierarchyApi(self.hierarchy),
            UserDirectoryApi(self.user_directory, self.auth),
            KeysApi(self.federation.local_keys, self.federation.keyring),
            KeysClientApi(self.e2ee, self.accounts, self.uia),
        ]
        self.federation_rooms: FederationRooms | None = None
        if not config.global_.disable_federation:
            fed_auth = self.federation.authenticator
            self.federation_rooms = FederationRooms(
                config, db, self.federation, self.room_input, self.bus
            )
            self.federation_rooms.connect(
                self.membership, self.aliases, self.directory, self.room_summaries
            )
            apis.append(self.federation_rooms)
            self.federation_rooms.third_party.prepare = self.third_party_invites.invite_content
            # The client /hierarchy walk asks other servers about rooms not held here.
            self.hierarchy.remote = self.federation_rooms.directory_client.hierarchy
            client = self.federation.client

            async def remote_exchange(destination: str, room_id: str, partial: JsonDict) -> None:
                await ask_exchange(client, destination, room_id, partial)

            self.third_party_invites.remote_exchange = remote_exchange
            apis += [
                FederationVersionApi(),
                FederationQueryApi(self.accounts, fed_auth),
                FederationDevicesApi(self.accounts, fed_auth, self.e2ee.keys),
                FederationUserKeysApi(self.e2ee.keys, fed_auth),
            ]
        for api in apis:
            self.add_routes(api.routes())
        for push_routes in self.push.apis(self.rooms):
            self.add_routes(push_routes)
        # Sync, pagination and send-to-device (ranvier.sync).
        self.notifier = Notifier()
        self.to_device = ToDeviceStore(db, DeviceStore(db))
        self.federation_edus: FederationEdus | None = None
        self.device_list_sender: DeviceListSender | None = None
        if self.federation_rooms is not None:
            self.federation_rooms.edus.register_edu_handler(
                "m.direct_to_device", to_device_edu_handler(self.to_device, self.rooms.is_local)
            )
            # Typing, receipts, presence and device list EDUs, in and out.
            self.federation_edus = FederationEdus(
                db, self.federation_rooms, self.typing, self.receipts, self.presence
            )
            self.bus.subscribe(ROOM_EVENTS, self.federation_edus.presence.on_room_event)
            self.device_list_sender = connect_federation(
                self.e2ee, self.federation_rooms, self.federation_edus
            )
        self.federation_metrics = FederationMetrics(self.metrics)
        self.federation_metrics.attach(self.federation, self.federation_rooms)
        self.sync = SyncService(
            self.room_storage,
            self.account_data,
            self.filters,
            self.to_device,
            self.notifier,
            self.bus,
            EphemeralStreams(self.typing, self.receipts, self.presence),
            self.e2ee.device_lists,
        )
        connect_notifier(self.e2ee, self.notifier)
        self.push.connect_sync(self.sync)
        self.pagination = PaginationService(self.sync.store, self.account_data)
        if self.federation_rooms is not None:
            self.federation_rooms.connect_pagination(self.pagination)
        for api in (
            SyncApi(self.sync),
            EventsApi(self.sync),
            MessagesApi(self.pagination),
            TimestampApi(TimestampLookup(self.pagination)),
            SendToDeviceApi(
                self.to_device, self.rooms.is_local, to_device_sender(self.federation_rooms)
            ),
        ):
            self.add_routes(api.routes())
        if config.global_.metrics.enabled:
            self.router.add("GET", "/metrics", self._metrics_endpoint(), name="/metrics")
        self.app: App = build_app(
            self.router,
            metrics=self.metrics,
            access_log=logging.getLogger("ranvier.access"),
            real_ip_header=config.sync_api.real_ip_header,
        )
        self.http: HttpServer | None = None

    @classmethod
    async def open(
        cls,
        config: Config,
        *,
        access_token_lifetime_ms: int = DEFAULT_ACCESS_TOKEN_LIFETIME_MS,
        federation_hooks: FederationHooks | None = None,
    ) -> Homeserver:
        """Open and migrate the database, build the server, load configured tokens."""
        db = await open_migrated_database(config)
        try:
            server = cls(
                config,
                db,
                access_token_lifetime_ms=access_token_lifetime_ms,
                federation_hooks=federation_hooks,
            )
            for token in config.client_api.registration_tokens:
                await server.registration_tokens.ensure(token)
        except BaseException:
            await db.close()
            raise
        return server

    def add_routes(self, routes: Iterable[RouteDef]) -> None:
        """Add routes of a component, made able to use :func:`ranvier.api.auth.require_user`."""
        for method, pattern, handler in count_activity(self.presence, routes):
            self.router.add(method, pattern, with_authenticator(self.auth, handler))

    async def _is_guest(self, user_id: str) -> bool:
        account = await self.accounts.accounts.get(user_id)
        return account is not None and account.is_guest

    async def _is_admin(self, user_id: str) -> bool:
        account = await self.accounts.accounts.get(user_id)
        return account is not None and account.is_admin

    def _routed(self, method: str, path: str) -> bool:
        try:
            self.router.resolve(method, path)
        except MatrixError:
            return False
        return True

    def _metrics_endpoint(self) -> Handler:
        serve = metrics_handler(self.metrics)
        basic = self.config.global_.metrics.basic_auth
        if basic is None:
            return serve
        expected = "Basic " + base64.b64encode(
            f"{basic.username}:{basic.password}".encode()
        ).decode("ascii")

        async def guarded(request: Request) -> Response:
            got = request.headers.get("authorization", "")
            if not hmac.compare_digest(got.encode(), expected.encode()):
                return Response(
                    status=401,
                    body=b"unauthorized\n",
                    headers=[("WWW-Authenticate", 'Basic realm="metrics"')],
                    content_type="text/plain",
                )
            return await serve(request)

        return guarded

    async def start(
        self,
        http_bind: tuple[str, int] | None,
        https_bind: tuple[str, int] | None = None,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
    ) -> list[tuple[str, int]]:
        """Listen on the given addresses; return the bound ``(host, port)`` pairs."""
        if self.http is None:
            self.http = HttpServer(self.app)
            self.metrics.add_gauge(
                "ranvier_http_connections",
                "Open client connections.",
                lambda: float(self.http.connection_count if self.http else 0),
            )
            self.metrics.start_loop_lag_sampler()
            if self.federation_rooms is not None:
                await self.federation_rooms.start()
            if self.federation_edus is not None:
                await self.federation_edus.start()
            await self.presence.start()
            self.user_directory.start()
        bound: list[tuple[str, int]] = []
        if http_bind is not None:
            for addr in await self.http.start(http_bind[0], http_bind[1]):
                bound.append((str(addr[0]), int(addr[1])))
        if https_bind is not None:
            if tls_cert is None or tls_key is None:
                raise ValueError("HTTPS needs tls_cert and tls_key")
            context = server_context(tls_cert, tls_key)
            for addr in await self.http.start(https_bind[0], https_bind[1], context):
                bound.append((str(addr[0]), int(addr[1])))
        for host, port in bound:
            logger.info("listening on %s:%d", host, port)
        return bound

    async def stop(self, grace: float = DRAIN_GRACE_S) -> None:
        """Drain the listeners, finish background work and close everything."""
        if self.http is not None:
            await self.http.shutdown(grace)
            self.http = None
        await self.metrics.stop()
        await self.room_input.queues.drain()
        await self.user_directory.stop()
        await self.bus.close()
        await self.upgrade_follower.drain()
        await self.push.stop()
        if self.federation_edus is not None:
            await self.federation_edus.stop()
        if self.device_list_sender is not None:
            await self.device_list_sender.stop()
        if self.federation_rooms is not None:
            await self.federation_rooms.stop()
        await self.presence.stop()
        self.typing.close()
        await self.auth.close()
        await self.registration.close()
        await self.identity.close()
        if self.cas is not None:
            await self.cas.close()
        await self.federation.close()
        await self.db.close()


async def run_homeserver(
    config: Config,
    http_bind: tuple[str, int] | None,
    https_bind: tuple[str, int] | None,
    tls_cert: Path | None,
    tls_key: Path | None,
) -> None:
    """Serve until cancelled (the CLI cancels on SIGTERM/SIGINT), then drain and close."""
    server = await Homeserver.open(config)
    try:
        await server.start(http_bind, https_bind, tls_cert, tls_key)
        await asyncio.Event().wait()
    finally:
        await asyncio.shield(server.stop())


async def create_account(config: Config, localpart: str, password: str, admin: bool) -> str:
    """Create a local account (``ranvier create-account``); raises ``UserIdTaken``."""
    db = await open_migrated_database(config)
    try:
        server = Homeserver(config, db)
        user_id = server.accounts.user_id_for(localpart)
        await server.accounts.create_account(user_id, password, admin=admin)
        return user_id
    finally:
        await db.close()

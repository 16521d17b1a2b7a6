"""The typed shape of ranvier's configuration: one frozen dataclass per section.

The YAML file follows Dendrite's ``dendrite.yaml`` (``version: 2``) section by section
and key by key, so a Dendrite config file works wherever the meaning is the same.
Attribute names equal the YAML keys, with two systematic exceptions:

* ``global`` is a Python keyword, so the section is :attr:`Config.global_`;
* a value whose YAML form is a duration or a size carries its unit in the attribute
  name once parsed (``key_validity_period`` -> ``key_validity_period_ms``,
  ``cache.max_size_estimated`` -> ``max_size_estimated_bytes``), so no caller has to
  guess the unit.

Every field has a default, so ``Config()`` is a complete, valid configuration for a
server called ``localhost`` with SQLite in the working directory. Paths in a loaded
config are absolute: :func:`ranvier.config.loader.load_config` resolves relative ones
against the directory of the config file. Ranvier extensions (keys Dendrite does not
have) are marked "ranvier extension" below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple


class BindAddress(NamedTuple):
    """A listen address. ``host`` is ``"0.0.0.0"`` when the YAML said ``:8008``.

    Being a ``NamedTuple`` it is also the ``(host, port)`` tuple that
    ``ranvier.server.run_homeserver`` takes.
    """

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


DEFAULT_HTTP_BIND = BindAddress("127.0.0.1", 8008)
"""Where ranvier listens for plain HTTP unless told otherwise."""


@dataclass(frozen=True, slots=True)
class OldSigningKey:
    """A signing key no longer used to sign, still published with its expiry.

    server-server-api "Publishing Keys": ``old_verify_keys`` with ``expired_ts``.
    Either ``private_key`` (a key file; its key id is read from the file) or
    ``public_key`` plus ``key_id`` is set.
    """

    expired_at: int
    """Milliseconds since the epoch when the key stopped being used."""
    private_key: Path | None = None
    public_key: str = ""
    """Unpadded or padded base64 of the Ed25519 verify key."""
    key_id: str = ""
    """``ed25519:<version>``."""


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    """``global.database``: one database for the whole server.

    ``connection_string`` is ``postgresql://...`` (or ``postgres://...``) for PostgreSQL,
    and ``file:PATH`` (a bare path is accepted too) for SQLite; a loaded config always
    holds SQLite paths as ``file:/absolute/path`` (query suffixes kept), or ``:memory:``.
    """

    connection_string: str = "file:ranvier.db"
    max_open_conns: int = 10
    max_idle_conns: int = 2
    conn_max_lifetime_seconds: int = -1
    """Seconds a pooled connection may live; ``-1`` means forever (Dendrite's meaning)."""

    @property
    def dialect(self) -> Literal["sqlite", "postgres"]:
        """Which driver the connection string selects."""
        cs = self.connection_string
        if cs.startswith(("postgresql://", "postgres://")):
            return "postgres"
        return "sqlite"


@dataclass(frozen=True, slots=True)
class CacheConfig:
    """``global.cache``: in-memory caches (sizes are estimates, not hard limits)."""

    max_size_estimated_bytes: int = 256 * 1024 * 1024
    max_age_ms: int = 60 * 60 * 1000


@dataclass(frozen=True, slots=True)
class PresenceConfig:
    """``global.presence``: whether presence is exchanged over federation, and (ranvier
    extension) whether it is kept at all."""

    enable_inbound: bool = False
    enable_outbound: bool = False
    enabled: bool = True
    """Ranvier extension: false turns presence off (``PUT .../status`` is ignored, ``GET``
    answers offline, ``/sync`` carries none). The two flags above only concern other
    servers; local presence works without them."""


@dataclass(frozen=True, slots=True)
class ServerNoticesConfig:
    """``global.server_notices`` (client-server-api "Server Notices")."""

    enabled: bool = False
    local_part: str = "_server"
    display_name: str = "Server Alerts"
    avatar_url: str = ""
    room_name: str = "Server Alerts"


@dataclass(frozen=True, slots=True)
class JetStreamConfig:
    """``global.jetstream``: the message bus.

    With no ``addresses`` ranvier uses its in-process bus (one process); with NATS
    addresses several processes can share the work.
    """

    addresses: tuple[str, ...] = ()
    in_memory: bool = False
    storage_path: Path = Path(".")
    topic_prefix: str = "Ranvier"
    disable_tls_validation: bool = False


@dataclass(frozen=True, slots=True)
class BasicAuth:
    """HTTP basic credentials protecting ``/metrics``."""

    username: str
    password: str


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """``global.metrics``: Prometheus metrics at ``/metrics``."""

    enabled: bool = False
    basic_auth: BasicAuth | None = None


@dataclass(frozen=True, slots=True)
class DnsCacheConfig:
    """``global.dns_cache``: a small resolver cache for federation lookups."""

    enabled: bool = False
    cache_size: int = 256
    cache_lifetime_ms: int = 5 * 60 * 1000


@dataclass(frozen=True, slots=True)
class GlobalConfig:
    """``global``: settings every component shares."""

    server_name: str = "localhost"
    private_key: Path = Path("matrix_key.pem")
    """Signing key file: Dendrite's PEM or Synapse's ``ed25519 <version> <seed>`` format."""
    old_private_keys: tuple[OldSigningKey, ...] = ()
    key_validity_period_ms: int = 7 * 24 * 60 * 60 * 1000
    """``valid_until_ts`` offset published with our keys (server-server-api "Publishing Keys")."""
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    well_known_server_name: str = ""
    """``m.server`` in ``/.well-known/matrix/server``; empty: not served (404)."""
    well_known_client_name: str = ""
    """``m.homeserver.base_url`` in ``/.well-known/matrix/client``; empty: not served."""
    trusted_third_party_id_servers: tuple[str, ...] = ("matrix.org", "vector.im")
    disable_federation: bool = False
    presence: PresenceConfig = field(default_factory=PresenceConfig)
    server_notices: ServerNoticesConfig = field(default_factory=ServerNoticesConfig)
    jetstream: JetStreamConfig = field(default_factory=JetStreamConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    dns_cache: DnsCacheConfig = field(default_factory=DnsCacheConfig)
    http_bind_address: BindAddress | None = DEFAULT_HTTP_BIND
    """Ranvier extension: plain-HTTP listener when ``--http-bind-address`` is not given.
    ``None`` (YAML ``""``) disables it."""
    https_bind_address: BindAddress | None = None
    """Ranvier extension: HTTPS listener when ``--https-bind-address`` is not given."""
    tls_cert: Path | None = None
    """Ranvier extension: PEM certificate chain for the HTTPS listener."""
    tls_key: Path | None = None
    """Ranvier extension: PEM private key for the HTTPS listener."""


@dataclass(frozen=True, slots=True)
class TurnConfig:
    """``client_api.turn`` (client-server-api "Voice over IP", ``/voip/turnServer``)."""

    turn_user_lifetime_ms: int = 24 * 60 * 60 * 1000
    turn_uris: tuple[str, ...] = ()
    turn_shared_secret: str = ""
    turn_username: str = ""
    turn_password: str = ""


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    """``client_api.rate_limiting``: a token bucket per client.

    ``threshold`` requests may burst; one slot frees every ``cooloff_ms``.
    """

    enabled: bool = True
    threshold: int = 20
    cooloff_ms: int = 500
    exempt_user_ids: tuple[str, ...] = ()
    exempt_ip_addresses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CasConfig:
    """Ranvier extension ``client_api.cas``: single sign-on through a CAS 2.0 server
    (client-server-api "SSO client login/authentication"; the spec leaves the SSO
    protocol to the server). Enabled when ``server_url`` is set."""

    server_url: str = ""
    """Base URL of the CAS server (``<server_url>/login``, ``<server_url>/proxyValidate``);
    CAS sends the browser back under ``client_api.public_base_url``."""
    display_name: str = "CAS"
    """The identity provider's name shown by clients."""
    disable_tls_validation: bool = False
    """For tests only: do not verify the CAS server's certificate."""

    @property
    def enabled(self) -> bool:
        """True when a CAS server is configured."""
        return bool(self.server_url)


@dataclass(frozen=True, slots=True)
class IdentityServerConfig:
    """Ranvier extension ``client_api.identity_servers``: how this server talks to the
    identity servers clients name in third-party invites (client-server-api
    "Third-party invites": the server looks the address up and stores invites there).
    The spec has clients choose identity servers, so no trusted list applies;
    addresses are checked against ``federation_api.deny_networks``/``allow_networks``."""

    disable_tls_validation: bool = False
    """For tests only: do not verify identity servers' certificates."""


@dataclass(frozen=True, slots=True)
class EmailConfig:
    """Ranvier extension ``client_api.email``: sending mail to validate email addresses
    (client-server-api "Adding Account Administrative Contact Information", the
    ``requestToken`` endpoints). Enabled when ``smtp_host`` is set."""

    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    require_transport_security: bool = False
    """Insist on STARTTLS (otherwise it is used when the server offers it)."""
    from_address: str = ""
    """The ``From`` of validation mails; ``noreply@<server_name>`` when empty."""

    @property
    def enabled(self) -> bool:
        """True when an SMTP server is configured."""
        return bool(self.smtp_host)


@dataclass(frozen=True, slots=True)
class ClientApiConfig:
    """``client_api``: the Client-Server API."""

    registration_disabled: bool = True
    """Off by default: make accounts with ``ranvier create-account`` or the shared secret."""
    guests_disabled: bool = True
    registration_shared_secret: str = ""
    """Enables ``/_synapse/admin/v1/register`` (HMAC-SHA1 shared-secret registration)."""
    registration_requires_token: bool = False
    """Ranvier extension: ``m.login.registration_token`` stage required to register
    (client-server-api "Token-authenticated registration"). True when tokens are listed."""
    registration_tokens: tuple[str, ...] = ()
    """Ranvier extension: tokens accepted by ``m.login.registration_token``."""
    enable_registration_captcha: bool = False
    recaptcha_public_key: str = ""
    recaptcha_private_key: str = ""
    recaptcha_bypass_secret: str = ""
    recaptcha_siteverify_api: str = "https://www.google.com/recaptcha/api/siteverify"
    recaptcha_disable_tls_validation: bool = False
    """Skip certificate checks when calling the siteverify API (tests only)."""
    push_disable_tls_validation: bool = False
    """Skip certificate checks when POSTing to push gateways (tests only)."""
    push_legacy_mention_rules: bool = False
    """Also serve the body-matching mention push rules removed in v1.17
    (``.m.rule.contains_user_name``, ``.m.rule.contains_display_name``,
    ``.m.rule.roomnotif``), as Synapse does; they skip events with ``m.mentions``."""
    turn: TurnConfig = field(default_factory=TurnConfig)
    rate_limiting: RateLimitConfig = field(default_factory=RateLimitConfig)
    public_base_url: str = ""
    """Ranvier extension: this server's client API base URL as browsers reach it, e.g.
    ``https://matrix.example.org``; links in validation mails and the SSO callback
    are built under it."""
    cas: CasConfig = field(default_factory=CasConfig)
    email: EmailConfig = field(default_factory=EmailConfig)
    identity_servers: IdentityServerConfig = field(default_factory=IdentityServerConfig)


@dataclass(frozen=True, slots=True)
class PerspectiveKey:
    """One trusted key of a notary server."""

    key_id: str
    public_key: str


@dataclass(frozen=True, slots=True)
class KeyPerspective:
    """A notary server (server-server-api "Querying Keys Through Another Server")."""

    server_name: str
    keys: tuple[PerspectiveKey, ...] = ()


@dataclass(frozen=True, slots=True)
class FederationApiConfig:
    """``federation_api``: talking to other homeservers."""

    send_max_retries: int = 16
    disable_tls_validation: bool = False
    disable_http_keepalives: bool = False
    key_perspectives: tuple[KeyPerspective, ...] = ()
    prefer_direct_fetch: bool = False
    deny_networks: tuple[str, ...] = (
        "127.0.0.1/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "::1/128",
        "fe80::/64",
        "fc00::/7",
    )
    allow_networks: tuple[str, ...] = ("0.0.0.0/0",)
    allow_loopback: bool = False
    """Ranvier extension, for tests only: allow federation to loopback addresses
    (two servers on one machine), overriding ``deny_networks`` for them."""


@dataclass(frozen=True, slots=True)
class ThumbnailSize:
    """One pre-generated thumbnail size (client-server-api "Thumbnails")."""

    width: int
    height: int
    method: Literal["crop", "scale"]


@dataclass(frozen=True, slots=True)
class MediaApiConfig:
    """``media_api``: the content repository."""

    base_path: Path = Path("media_store")
    max_file_size_bytes: int = 10 * 1024 * 1024
    """0 means unlimited."""
    dynamic_thumbnails: bool = False
    max_thumbnail_generators: int = 10
    thumbnail_sizes: tuple[ThumbnailSize, ...] = (
        ThumbnailSize(32, 32, "crop"),
        ThumbnailSize(96, 96, "crop"),
        ThumbnailSize(640, 480, "scale"),
    )


@dataclass(frozen=True, slots=True)
class SearchConfig:
    """``sync_api.search``: server-side message search."""

    enabled: bool = False
    index_path: Path = Path("searchindex")
    language: str = "en"


@dataclass(frozen=True, slots=True)
class SyncApiConfig:
    """``sync_api``."""

    search: SearchConfig = field(default_factory=SearchConfig)
    real_ip_header: str = ""
    """Header carrying the client's address behind a reverse proxy, e.g. ``X-Real-IP``."""


@dataclass(frozen=True, slots=True)
class UserDirectoryConfig:
    """``user_api.user_directory``: who ``POST /user_directory/search`` can find."""

    search_all_users: bool = False
    """Every local account, not only users sharing a room with the searcher or in a
    public room (Synapse's ``user_directory.search_all_users``)."""


@dataclass(frozen=True, slots=True)
class UserApiConfig:
    """``user_api``: accounts and passwords."""

    bcrypt_cost: int = 10
    auto_join_rooms: tuple[str, ...] = ()
    openid_token_lifetime_ms: int = 60 * 60 * 1000
    user_directory: UserDirectoryConfig = field(default_factory=UserDirectoryConfig)


@dataclass(frozen=True, slots=True)
class AppServiceApiConfig:
    """``app_service_api`` (application-service-api)."""

    config_files: tuple[Path, ...] = ()
    disable_tls_validation: bool = False
    legacy_auth: bool = False
    legacy_paths: bool = False


LogLevel = Literal["debug", "info", "warn", "error"]


@dataclass(frozen=True, slots=True)
class LogTarget:
    """One entry of ``logging``: ``type: std`` (stderr) or ``type: file``."""

    type: Literal["std", "file"]
    level: LogLevel = "info"
    path: Path | None = None
    """For ``type: file``: the directory (``params.path``) holding ``ranvier.log``."""


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration, as loaded from one YAML file."""

    global_: GlobalConfig = field(default_factory=GlobalConfig)
    client_api: ClientApiConfig = field(default_factory=ClientApiConfig)
    federation_api: FederationApiConfig = field(default_factory=FederationApiConfig)
    media_api: MediaApiConfig = field(default_factory=MediaApiConfig)
    sync_api: SyncApiConfig = field(default_factory=SyncApiConfig)
    user_api: UserApiConfig = field(default_factory=UserApiConfig)
    app_service_api: AppServiceApiConfig = field(default_factory=AppServiceApiConfig)
    mscs: tuple[str, ...] = ()
    logging: tuple[LogTarget, ...] = (LogTarget("std", "info"),)
    config_path: Path | None = None
    """The file this config was loaded from (None when built in code)."""

    @property
    def server_name(self) -> str:
        """Shortcut for ``global_.server_name``."""
        return self.global_.server_name

    @property
    def database(self) -> DatabaseConfig:
        """Shortcut for ``global_.database``."""
        return self.global_.database

"""Load a YAML config file into a :class:`~ranvier.config.schema.Config`.

Theory of operation: the YAML is parsed with ``yaml.safe_load`` into plain Python
values, then walked section by section through a :class:`_Reader`, which knows the
key path it stands at (``global.database``) and appends every problem it meets to
one shared list instead of raising. Each typed getter returns the default when the
key is missing or null (Dendrite's sample leaves many list keys empty), and returns
the default *and* records a problem when the value has the wrong type or an invalid
value. After the walk, cross-field checks run (captcha needs its keys, TLS needs a
certificate and a key). If any problem was recorded, one :class:`ConfigError`
carrying all of them is raised, so an operator fixes the file in one go.

Keys the schema does not know (Dendrite has many ranvier does not use: tracing,
report_stats, per-component ``database`` blocks of SQLite monoliths...) are ignored
with a debug log line, so a Dendrite config loads unchanged.

Relative paths resolve against the config file's directory, as do SQLite paths in
``global.database.connection_string``.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

import yaml

from ranvier.config import values
from ranvier.config.schema import (
    AppServiceApiConfig,
    BasicAuth,
    BindAddress,
    CacheConfig,
    CasConfig,
    ClientApiConfig,
    Config,
    DatabaseConfig,
    DnsCacheConfig,
    EmailConfig,
    FederationApiConfig,
    GlobalConfig,
    IdentityServerConfig,
    JetStreamConfig,
    KeyPerspective,
    LogLevel,
    LogTarget,
    MediaApiConfig,
    MetricsConfig,
    OldSigningKey,
    PerspectiveKey,
    PresenceConfig,
    RateLimitConfig,
    SearchConfig,
    ServerNoticesConfig,
    SyncApiConfig,
    ThumbnailSize,
    TurnConfig,
    UserApiConfig,
    UserDirectoryConfig,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")


class ConfigError(Exception):
    """The config file is unusable; ``problems`` lists every reason, one per entry,
    each starting with its key path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


def load_config(path: str | Path) -> Config:
    """Read, parse and validate the YAML file at ``path``; raise :class:`ConfigError`."""
    file = Path(path).expanduser().absolute()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{file}: cannot read config file: {exc.strerror or exc}"]) from None
    return parse_config_text(text, base_dir=file.parent, config_path=file)


def parse_config_text(text: str, base_dir: Path, config_path: Path | None = None) -> Config:
    """Parse YAML ``text``; relative paths resolve against ``base_dir``."""
    where = str(config_path) if config_path else "config"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([f"{where}: not valid YAML: {exc}"]) from None
    return parse_config(data, base_dir=base_dir, config_path=config_path)


def parse_config(data: object, base_dir: Path, config_path: Path | None = None) -> Config:
    """Build a :class:`Config` from already-parsed YAML data (a mapping, or None for
    an empty file), collecting every problem before raising :class:`ConfigError`."""
    problems: list[str] = []
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError([f"(top level): expected a mapping of sections, got {_kind(data)}"])
    root = _Reader(data, "", problems, base_dir.absolute())
    version = root.raw("version")
    if version is not None and version != 2:
        problems.append(f"version: expected 2 (Dendrite's config format version), got {version!r}")
    config = Config(
        global_=_global(root.section("global")),
        client_api=_client_api(root.section("client_api")),
        federation_api=_federation_api(root.section("federation_api")),
        media_api=_media_api(root.section("media_api")),
        sync_api=_sync_api(root.section("sync_api")),
        user_api=_user_api(root.section("user_api")),
        app_service_api=_app_service_api(root.section("app_service_api")),
        mscs=root.section("mscs").strings("mscs", ()),
        logging=_logging(root),
        config_path=config_path,
    )
    _cross_checks(config, problems)
    root.report_unknown()
    if problems:
        raise ConfigError(problems)
    return config


# ---------------------------------------------------------------------------- reader


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


class _Reader:
    """Typed access to one mapping of the YAML tree, recording problems by key path."""

    def __init__(
        self, data: Mapping[Any, Any], path: str, problems: list[str], base_dir: Path
    ) -> None:
        self.data = data
        self.path = path
        self.problems = problems
        self.base_dir = base_dir
        self.used: set[str] = set()
        self.children: list[_Reader] = []

    def key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self.key(key)}: {message}")

    def raw(self, key: str) -> Any:
        self.used.add(key)
        return self.data.get(key)

    def _typed(self, key: str, default: T, convert: Callable[[Any], T]) -> T:
        value = self.raw(key)
        if value is None:
            return default
        try:
            return convert(value)
        except ValueError as exc:
            self.problem(key, str(exc))
            return default

    def string(self, key: str, default: str = "") -> str:
        def convert(v: Any) -> str:
            if isinstance(v, str):
                return v
            if isinstance(v, int | float) and not isinstance(v, bool):
                return str(v)
            raise ValueError(f"expected a string, got {_kind(v)}")

        return self._typed(key, default, convert)

    def boolean(self, key: str, default: bool) -> bool:
        def convert(v: Any) -> bool:
            if isinstance(v, bool):
                return v
            raise ValueError(f"expected true or false, got {_kind(v)}")

        return self._typed(key, default, convert)

    def integer(
        self, key: str, default: int, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        def convert(v: Any) -> int:
            if isinstance(v, str) and re.fullmatch(r"\s*[-+]?\d+\s*", v):
                v = int(v)
            if not isinstance(v, int) or isinstance(v, bool):
                raise ValueError(f"expected an integer, got {_kind(v)}")
            return _in_range(v, minimum, maximum)

        return self._typed(key, default, convert)

    def duration_ms(self, key: str, default: int, minimum: int | None = 0) -> int:
        return self._typed(
            key, default, lambda v: _in_range(values.parse_duration_ms(v), minimum, None)
        )

    def size_bytes(self, key: str, default: int) -> int:
        return self._typed(key, default, values.parse_size_bytes)

    def path_value(self, key: str, default: Path) -> Path:
        return self._typed(key, self.resolve(default), lambda v: self.resolve(Path(_str(v))))

    def optional_path(self, key: str) -> Path | None:
        value = self.raw(key)
        if value is None or value == "":
            return None
        try:
            return self.resolve(Path(_str(value)))
        except ValueError as exc:
            self.problem(key, str(exc))
            return None

    def resolve(self, path: Path) -> Path:
        path = path.expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def strings(
        self, key: str, default: tuple[str, ...], check: Callable[[str], None] | None = None
    ) -> tuple[str, ...]:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.problem(key, f"expected a list of strings, got {_kind(value)}")
            return default
        out: list[str] = []
        for i, item in enumerate(value):
            if item is None:
                continue
            if not isinstance(item, str):
                self.problem(f"{key}[{i}]", f"expected a string, got {_kind(item)}")
                continue
            if check is not None:
                try:
                    check(item)
                except ValueError as exc:
                    self.problem(f"{key}[{i}]", str(exc))
                    continue
            out.append(item)
        return tuple(out)

    def section(self, key: str) -> _Reader:
        value = self.raw(key)
        if value is not None and not isinstance(value, Mapping):
            self.problem(key, f"expected a mapping, got {_kind(value)}")
            value = None
        child = _Reader(value or {}, self.key(key), self.problems, self.base_dir)
        self.children.append(child)
        return child

    def sections(self, key: str) -> list[_Reader]:
        """The items of a list of mappings, each as a reader at ``key[i]``."""
        value = self.raw(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(key, f"expected a list, got {_kind(value)}")
            return []
        out = []
        for i, item in enumerate(value):
            if item is None:
                continue
            if not isinstance(item, Mapping):
                self.problem(f"{key}[{i}]", f"expected a mapping, got {_kind(item)}")
                continue
            child = _Reader(item, f"{self.key(key)}[{i}]", self.problems, self.base_dir)
            self.children.append(child)
            out.append(child)
        return out

    def report_unknown(self) -> None:
        for key in self.data:
            if key not in self.used:
                logger.debug("config: ignoring key %s (not used by ranvier)", self.key(str(key)))
        for child in self.children:
            child.report_unknown()


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {_kind(value)}")
    return value


def _in_range(value: int, minimum: int | None, maximum: int | None) -> int:
    if minimum is not None and value < minimum:
        if maximum is not None:
            raise ValueError(f"expected a value from {minimum} to {maximum}, got {value}")
        raise ValueError(f"expected a value of at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"expected a value from {minimum} to {maximum}, got {value}")
    return value


def _decode_key_base64(text: str) -> bytes:
    """Standard or URL-safe base64, padded or not (appendices "Unpadded Base64")."""
    cleaned = text.strip().rstrip("=")
    alphabet = "-_" if ("-" in cleaned or "_" in cleaned) else "+/"
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), altchars=alphabet.encode())
    except (binascii.Error, ValueError):
        raise ValueError(f"expected unpadded base64, got {text!r}") from None


def _check_public_key(text: str) -> None:
    try:
        raw = _decode_key_base64(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ValueError(f"expected the base64 of a 32-byte Ed25519 public key, got {text!r}")


def _check_key_id(text: str) -> None:
    if not re.fullmatch(r"ed25519:[A-Za-z0-9_]+", text):
        raise ValueError(f"expected a key id like ed25519:a_AbCd, got {text!r}")


# ---------------------------------------------------------------------------- sections


def _global(r: _Reader) -> GlobalConfig:
    d = GlobalConfig()
    server_name = r.string("server_name", d.server_name)
    try:
        values.check_server_name(server_name)
    except ValueError as exc:
        r.problem("server_name", str(exc))
    return GlobalConfig(
        server_name=server_name,
        private_key=r.path_value("private_key", d.private_key),
        old_private_keys=tuple(_old_key(k) for k in r.sections("old_private_keys")),
        key_validity_period_ms=r.duration_ms("key_validity_period", d.key_validity_period_ms, 1),
        database=_database(r.section("database")),
        cache=_cache(r.section("cache")),
        well_known_server_name=_well_known_server(r),
        well_known_client_name=_well_known_client(r),
        trusted_third_party_id_servers=r.strings(
            "trusted_third_party_id_servers", d.trusted_third_party_id_servers
        ),
        disable_federation=r.boolean("disable_federation", d.disable_federation),
        presence=_presence(r.section("presence")),
        server_notices=_server_notices(r.section("server_notices")),
        jetstream=_jetstream(r.section("jetstream")),
        metrics=_metrics(r.section("metrics")),
        dns_cache=_dns_cache(r.section("dns_cache")),
        http_bind_address=_bind(r, "http_bind_address", d.http_bind_address),
        https_bind_address=_bind(r, "https_bind_address", d.https_bind_address),
        tls_cert=r.optional_path("tls_cert"),
        tls_key=r.optional_path("tls_key"),
    )


def _bind(r: _Reader, key: str, default: BindAddress | None) -> BindAddress | None:
    value = r.raw(key)
    if value is None:
        return default
    if value == "":
        return None
    if not isinstance(value, str):
        r.problem(key, f"expected HOST:PORT like 127.0.0.1:8008, got {_kind(value)}")
        return default
    try:
        return values.parse_bind_address(value)
    except ValueError as exc:
        r.problem(key, str(exc))
        return default


def _well_known_server(r: _Reader) -> str:
    value = r.string("well_known_server_name", "")
    if value:
        try:
            values.check_server_name(value)
        except ValueError as exc:
            r.problem("well_known_server_name", str(exc))
    return value


def _well_known_client(r: _Reader) -> str:
    value = r.string("well_known_client_name", "")
    if value and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
        r.problem(
            "well_known_client_name",
            f"expected a base URL like https://matrix.example.org, got {value!r}",
        )
    return value


def _old_key(r: _Reader) -> OldSigningKey:
    expired_at = r.integer("expired_at", -1, minimum=0)
    if r.raw("expired_at") is None:
        r.problem("expired_at", "expected the expiry time in milliseconds since the epoch")
    private_key = r.optional_path("private_key")
    public_key = r.string("public_key", "")
    key_id = r.string("key_id", "")
    if private_key is None and not public_key:
        r.problem("private_key", "expected either private_key (a key file) or public_key")
    if public_key:
        try:
            _check_public_key(public_key)
        except ValueError as exc:
            r.problem("public_key", str(exc))
        if not key_id:
            r.problem("key_id", "expected a key id like ed25519:a_AbCd with public_key")
    if key_id:
        try:
            _check_key_id(key_id)
        except ValueError as exc:
            r.problem("key_id", str(exc))
    return OldSigningKey(
        expired_at=expired_at, private_key=private_key, public_key=public_key, key_id=key_id
    )


def _database(r: _Reader) -> DatabaseConfig:
    d = DatabaseConfig()
    conn = r.string("connection_string", d.connection_string)
    try:
        conn = normalise_connection_string(conn, r.base_dir)
    except ValueError as exc:
        r.problem("connection_string", str(exc))
    lifetime = r.raw("conn_max_lifetime")
    lifetime_s = d.conn_max_lifetime_seconds
    if isinstance(lifetime, int) and not isinstance(lifetime, bool):
        lifetime_s = lifetime  # Dendrite: plain integers are seconds
    elif lifetime is not None:
        try:
            lifetime_s = values.parse_duration_ms(lifetime) // 1000
        except ValueError as exc:
            r.problem("conn_max_lifetime", str(exc))
    if lifetime_s < -1:
        r.problem("conn_max_lifetime", f"expected seconds >= 0, or -1 for forever, got {lifetime}")
    return DatabaseConfig(
        connection_string=conn,
        max_open_conns=r.integer("max_open_conns", d.max_open_conns, minimum=1),
        max_idle_conns=r.integer("max_idle_conns", d.max_idle_conns, minimum=0),
        conn_max_lifetime_seconds=lifetime_s,
    )


def normalise_connection_string(value: str, base_dir: Path) -> str:
    """PostgreSQL DSNs unchanged; SQLite as ``file:/absolute/path[?query]``.

    Accepts ``file:PATH``, ``file://PATH``, a bare path and ``:memory:``; relative
    paths resolve against ``base_dir``. Raises ``ValueError`` for other schemes."""
    text = value.strip()
    if text.startswith(("postgresql://", "postgres://")):
        return text
    if text in (":memory:", "file::memory:"):
        return ":memory:"
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text) and not text.startswith("file://"):
        raise ValueError(
            "expected postgresql://user@host/dbname or file:PATH (SQLite), "
            f"got {text.split('://')[0]}:// (unsupported database)"
        )
    if not text or text in ("file:", "file://"):
        raise ValueError("expected postgresql://user@host/dbname or file:PATH (SQLite), got ''")
    if text.startswith("file://"):
        text = text[len("file://") :]
    elif text.startswith("file:"):
        text = text[len("file:") :]
    path_part, sep, query = text.partition("?")
    path = Path(path_part).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    return f"file:{path}{sep}{query}"


def _cache(r: _Reader) -> CacheConfig:
    d = CacheConfig()
    return CacheConfig(
        max_size_estimated_bytes=r.size_bytes("max_size_estimated", d.max_size_estimated_bytes),
        max_age_ms=r.duration_ms("max_age", d.max_age_ms),
    )


def _presence(r: _Reader) -> PresenceConfig:
    return PresenceConfig(
        enable_inbound=r.boolean("enable_inbound", False),
        enable_outbound=r.boolean("enable_outbound", False),
        enabled=r.boolean("enabled", True),
    )


def _server_notices(r: _Reader) -> ServerNoticesConfig:
    d = ServerNoticesConfig()
    return ServerNoticesConfig(
        enabled=r.boolean("enabled", d.enabled),
        local_part=r.string("local_part", d.local_part),
        display_name=r.string("display_name", d.display_name),
        avatar_url=r.string("avatar_url", d.avatar_url),
        room_name=r.string("room_name", d.room_name),
    )


def _jetstream(r: _Reader) -> JetStreamConfig:
    d = JetStreamConfig()
    return JetStreamConfig(
        addresses=r.strings("addresses", d.addresses),
        in_memory=r.boolean("in_memory", d.in_memory),
        storage_path=r.path_value("storage_path", d.storage_path),
        topic_prefix=r.string("topic_prefix", d.topic_prefix),
        disable_tls_validation=r.boolean("disable_tls_validation", d.disable_tls_validation),
    )


def _metrics(r: _Reader) -> MetricsConfig:
    auth = r.section("basic_auth")
    username = auth.string("username", "")
    password = auth.string("password", "")
    return MetricsConfig(
        enabled=r.boolean("enabled", False),
        basic_auth=BasicAuth(username, password) if username or password else None,
    )


def _dns_cache(r: _Reader) -> DnsCacheConfig:
    d = DnsCacheConfig()
    return DnsCacheConfig(
        enabled=r.boolean("enabled", d.enabled),
        cache_size=r.integer("cache_size", d.cache_size, minimum=1),
        cache_lifetime_ms=r.duration_ms("cache_lifetime", d.cache_lifetime_ms),
    )


_TOKEN = re.compile(r"[A-Za-z0-9._~-]{1,64}")


def _check_registration_token(token: str) -> None:
    if not _TOKEN.fullmatch(token):
        raise ValueError(f"expected 1-64 characters of [A-Za-z0-9._~-], got {token!r}")


def _check_user_id(value: str) -> None:
    if not re.fullmatch(r"@[^:]+:.+", value):
        raise ValueError(f"expected a user id like @alice:example.org, got {value!r}")


def _check_room_ref(value: str) -> None:
    if not re.fullmatch(r"[#!][^:]+:.+", value):
        raise ValueError(f"expected a room alias like #lobby:example.org, got {value!r}")


def _client_api(r: _Reader) -> ClientApiConfig:
    d = ClientApiConfig()
    tokens = r.strings("registration_tokens", (), check=_check_registration_token)
    turn = r.section("turn")
    rl = r.section("rate_limiting")
    cas = r.section("cas")
    email = r.section("email")
    identity = r.section("identity_servers")
    return ClientApiConfig(
        registration_disabled=r.boolean("registration_disabled", d.registration_disabled),
        guests_disabled=r.boolean("guests_disabled", d.guests_disabled),
        registration_shared_secret=r.string("registration_shared_secret", ""),
        registration_requires_token=r.boolean("registration_requires_token", bool(tokens)),
        registration_tokens=tokens,
        enable_registration_captcha=r.boolean("enable_registration_captcha", False),
        recaptcha_public_key=r.string("recaptcha_public_key", ""),
        recaptcha_private_key=r.string("recaptcha_private_key", ""),
        recaptcha_bypass_secret=r.string("recaptcha_bypass_secret", ""),
        recaptcha_siteverify_api=r.string("recaptcha_siteverify_api", "")
        or d.recaptcha_siteverify_api,
        recaptcha_disable_tls_validation=r.boolean("recaptcha_disable_tls_validation", False),
        push_disable_tls_validation=r.boolean("push_disable_tls_validation", False),
        push_legacy_mention_rules=r.boolean("push_legacy_mention_rules", False),
        turn=TurnConfig(
            turn_user_lifetime_ms=turn.duration_ms(
                "turn_user_lifetime", d.turn.turn_user_lifetime_ms
            ),
            turn_uris=turn.strings("turn_uris", ()),
            turn_shared_secret=turn.string("turn_shared_secret", ""),
            turn_username=turn.string("turn_username", ""),
            turn_password=turn.string("turn_password", ""),
        ),
        rate_limiting=RateLimitConfig(
            enabled=rl.boolean("enabled", d.rate_limiting.enabled),
            threshold=rl.integer("threshold", d.rate_limiting.threshold, minimum=1),
            cooloff_ms=rl.integer("cooloff_ms", d.rate_limiting.cooloff_ms, minimum=0),
            exempt_user_ids=rl.strings("exempt_user_ids", (), check=_check_user_id),
            exempt_ip_addresses=rl.strings("exempt_ip_addresses", ()),
        ),
        public_base_url=r.string("public_base_url", "").rstrip("/"),
        cas=CasConfig(
            server_url=cas.string("server_url", "").rstrip("/"),
            display_name=cas.string("display_name", "") or d.cas.display_name,
            disable_tls_validation=cas.boolean("disable_tls_validation", False),
        ),
        email=EmailConfig(
            smtp_host=email.string("smtp_host", ""),
            smtp_port=email.integer("smtp_port", d.email.smtp_port, minimum=1),
            smtp_username=email.string("smtp_username", ""),
            smtp_password=email.string("smtp_password", ""),
            require_transport_security=email.boolean("require_transport_security", False),
            from_address=email.string("from_address", ""),
        ),
        identity_servers=IdentityServerConfig(
            disable_tls_validation=identity.boolean("disable_tls_validation", False),
        ),
    )


def _federation_api(r: _Reader) -> FederationApiConfig:
    d = FederationApiConfig()
    perspectives = []
    for p in r.sections("key_perspectives"):
        name = p.string("server_name", "")
        try:
            values.check_server_name(name)
        except ValueError as exc:
            p.problem("server_name", str(exc))
        keys = []
        for k in p.sections("keys"):
            key_id = k.string("key_id", "")
            public_key = k.string("public_key", "")
            for key, check, value in (
                ("key_id", _check_key_id, key_id),
                ("public_key", _check_public_key, public_key),
            ):
                try:
                    check(value)
                except ValueError as exc:
                    k.problem(key, str(exc))
            keys.append(PerspectiveKey(key_id, public_key))
        perspectives.append(KeyPerspective(name, tuple(keys)))
    return FederationApiConfig(
        send_max_retries=r.integer("send_max_retries", d.send_max_retries, minimum=0),
        disable_tls_validation=r.boolean("disable_tls_validation", False),
        disable_http_keepalives=r.boolean("disable_http_keepalives", False),
        key_perspectives=tuple(perspectives),
        prefer_direct_fetch=r.boolean("prefer_direct_fetch", False),
        deny_networks=r.strings("deny_networks", d.deny_networks, check=_check_cidr),
        allow_networks=r.strings("allow_networks", d.allow_networks, check=_check_cidr),
        allow_loopback=r.boolean("allow_loopback", False),
    )


def _check_cidr(value: str) -> None:
    import ipaddress

    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"expected a CIDR range like 10.0.0.0/8, got {value!r}") from None


def _media_api(r: _Reader) -> MediaApiConfig:
    d = MediaApiConfig()
    sizes = []
    for s in r.sections("thumbnail_sizes"):
        method = s.string("method", "scale")
        if method not in ("crop", "scale"):
            s.problem("method", f"expected crop or scale, got {method!r}")
            method = "scale"
        sizes.append(
            ThumbnailSize(
                width=s.integer("width", 1, minimum=1),
                height=s.integer("height", 1, minimum=1),
                method=cast("Any", method),
            )
        )
        for key in ("width", "height"):
            if s.raw(key) is None:
                s.problem(key, "expected a size in pixels")
    return MediaApiConfig(
        base_path=r.path_value("base_path", d.base_path),
        max_file_size_bytes=r.size_bytes("max_file_size_bytes", d.max_file_size_bytes),
        dynamic_thumbnails=r.boolean("dynamic_thumbnails", d.dynamic_thumbnails),
        max_thumbnail_generators=r.integer(
            "max_thumbnail_generators", d.max_thumbnail_generators, minimum=1
        ),
        thumbnail_sizes=tuple(sizes) if r.raw("thumbnail_sizes") is not None else d.thumbnail_sizes,
    )


def _sync_api(r: _Reader) -> SyncApiConfig:
    search = r.section("search")
    d = SearchConfig()
    return SyncApiConfig(
        search=SearchConfig(
            enabled=search.boolean("enabled", d.enabled),
            index_path=search.path_value("index_path", d.index_path),
            language=search.string("language", d.language),
        ),
        real_ip_header=r.string("real_ip_header", ""),
    )


def _user_api(r: _Reader) -> UserApiConfig:
    d = UserApiConfig()
    return UserApiConfig(
        bcrypt_cost=r.integer("bcrypt_cost", d.bcrypt_cost, minimum=4, maximum=31),
        auto_join_rooms=r.strings("auto_join_rooms", (), check=_check_room_ref),
        openid_token_lifetime_ms=r.integer(
            "openid_token_lifetime_ms", d.openid_token_lifetime_ms, minimum=1
        ),
        user_directory=UserDirectoryConfig(
            search_all_users=r.section("user_directory").boolean(
                "search_all_users", d.user_directory.search_all_users
            )
        ),
    )


def _app_service_api(r: _Reader) -> AppServiceApiConfig:
    files = r.strings("config_files", ())
    return AppServiceApiConfig(
        config_files=tuple(r.resolve(Path(f)) for f in files),
        disable_tls_validation=r.boolean("disable_tls_validation", False),
        legacy_auth=r.boolean("legacy_auth", False),
        legacy_paths=r.boolean("legacy_paths", False),
    )


_LEVELS: dict[str, LogLevel] = {
    "trace": "debug",
    "debug": "debug",
    "info": "info",
    "warn": "warn",
    "warning": "warn",
    "error": "error",
    "fatal": "error",
    "panic": "error",
}


def _logging(root: _Reader) -> tuple[LogTarget, ...]:
    if root.raw("logging") is None:
        return Config().logging
    targets = []
    for t in root.sections("logging"):
        kind = t.string("type", "std")
        level_text = t.string("level", "info").lower()
        level = _LEVELS.get(level_text)
        if level is None:
            t.problem("level", f"expected debug, info, warn or error, got {level_text!r}")
            level = "info"
        path = None
        if kind == "file":
            path = t.section("params").optional_path("path")
            if path is None:
                t.problem("params.path", "expected a directory for log files (type: file)")
            targets.append(LogTarget("file", level, path))
        elif kind == "std":
            targets.append(LogTarget("std", level))
        else:
            t.problem("type", f"expected std or file, got {kind!r}")
    return tuple(targets)


def _cross_checks(config: Config, problems: list[str]) -> None:
    g, c = config.global_, config.client_api
    if c.enable_registration_captcha:
        for key in ("recaptcha_public_key", "recaptcha_private_key"):
            if not getattr(c, key):
                problems.append(
                    f"client_api.{key}: expected a key because enable_registration_captcha is true"
                )
    if (g.tls_cert is None) != (g.tls_key is None):
        missing = "tls_key" if g.tls_key is None else "tls_cert"
        problems.append(f"global.{missing}: expected together with global.tls_cert/tls_key")
    if g.https_bind_address is not None and g.tls_cert is None:
        problems.append(
            "global.https_bind_address: expected global.tls_cert and global.tls_key to be set"
        )
    if g.metrics.basic_auth is not None and not (
        g.metrics.basic_auth.username and g.metrics.basic_auth.password
    ):
        problems.append("global.metrics.basic_auth: expected both username and password")
    turn = c.turn
    if turn.turn_uris and not (turn.turn_shared_secret or turn.turn_username):
        problems.append(
            "client_api.turn: expected turn_shared_secret or turn_username/turn_password "
            "when turn_uris are set"
        )

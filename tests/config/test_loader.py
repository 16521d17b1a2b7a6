"""Loading config files: defaults, Dendrite compatibility, and error reporting."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from ranvier.config import Config, ConfigError, load_config, parse_config, parse_config_text
from ranvier.config.schema import (
    BasicAuth,
    BindAddress,
    KeyPerspective,
    LogTarget,
    OldSigningKey,
    PerspectiveKey,
    ThumbnailSize,
)

HERE = Path(__file__).parent


def test_empty_file_gives_defaults_with_resolved_paths(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    config = load_config(path)
    defaults = Config()
    assert config.server_name == "localhost"
    assert config.global_.private_key == tmp_path / "matrix_key.pem"
    assert config.database.connection_string == f"file:{tmp_path / 'ranvier.db'}"
    assert config.database.dialect == "sqlite"
    assert config.media_api.base_path == tmp_path / "media_store"
    assert config.global_.http_bind_address == BindAddress("127.0.0.1", 8008)
    assert config.client_api.registration_disabled is True
    assert config.user_api == defaults.user_api
    assert config.client_api == defaults.client_api
    assert config.federation_api == defaults.federation_api
    assert config.config_path == path


def test_dendrite_style_config_loads() -> None:
    config = load_config(HERE / "dendrite_style.yaml")
    g = config.global_
    assert g.server_name == "chat.example.org"
    assert g.private_key == HERE / "keys" / "matrix_key.pem"
    assert g.old_private_keys == (
        OldSigningKey(expired_at=1601024554498, private_key=HERE / "keys" / "old_key.pem"),
        OldSigningKey(
            expired_at=1601024554499,
            public_key="mn59Kxfdq9VziYHSBzI7+EDPDcBS2Xl7jeUdiiQcOnM=",
            key_id="ed25519:mykeyid",
        ),
    )
    assert g.key_validity_period_ms == 7 * 24 * 3600 * 1000
    assert g.database.dialect == "postgres"
    assert g.database.connection_string.endswith("/dendrite?sslmode=disable")
    assert (g.database.max_open_conns, g.database.max_idle_conns) == (90, 5)
    assert g.database.conn_max_lifetime_seconds == -1
    assert g.cache.max_size_estimated_bytes == 1024**3
    assert g.cache.max_age_ms == 3_600_000
    assert g.well_known_server_name == "matrix.example.org:443"
    assert g.well_known_client_name == "https://matrix.example.org"
    assert g.presence.enable_inbound and not g.presence.enable_outbound
    assert g.server_notices.local_part == "_notices"
    assert g.jetstream.addresses == ("localhost:4222",)
    assert g.jetstream.storage_path == HERE / "jetstream"
    assert g.metrics.enabled and g.metrics.basic_auth == BasicAuth("metrics", "hunter2")
    assert g.dns_cache.cache_size == 512 and g.dns_cache.cache_lifetime_ms == 600_000
    c = config.client_api
    assert not c.registration_disabled
    assert c.registration_shared_secret == "s3cret"
    assert c.enable_registration_captcha
    assert c.recaptcha_siteverify_api == "https://hcaptcha.com/siteverify"
    assert c.turn.turn_user_lifetime_ms == 300_000
    assert c.turn.turn_uris == ("turn:turn.example.org?transport=udp",)
    assert (c.rate_limiting.threshold, c.rate_limiting.cooloff_ms) == (5, 500)
    assert c.rate_limiting.exempt_user_ids == ("@bot:chat.example.org",)
    f = config.federation_api
    assert f.send_max_retries == 8 and f.disable_http_keepalives and f.prefer_direct_fetch
    assert f.key_perspectives == (
        KeyPerspective(
            "matrix.org",
            (PerspectiveKey("ed25519:auto", "Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw"),),
        ),
    )
    assert f.deny_networks == ("10.0.0.0/8",)
    m = config.media_api
    assert m.base_path == HERE / "media_store"
    assert m.max_file_size_bytes == 20 * 1024 * 1024
    assert m.thumbnail_sizes == (ThumbnailSize(32, 32, "crop"), ThumbnailSize(800, 600, "scale"))
    assert config.sync_api.real_ip_header == "X-Real-IP"
    assert config.sync_api.search.enabled
    assert config.user_api.bcrypt_cost == 12
    assert config.user_api.auto_join_rooms == ("#lobby:chat.example.org",)
    assert config.app_service_api.config_files == (HERE / "bridges" / "irc.yaml",)
    assert config.mscs == ("msc2836",)
    assert config.logging == (
        LogTarget("std", "warn"),
        LogTarget("file", "debug", HERE / "logs"),
    )


def test_unknown_keys_are_ignored_with_a_debug_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="ranvier.config"):
        load_config(HERE / "dendrite_style.yaml")
    ignored = caplog.text
    for key in (
        "global.report_stats",
        "tracing",
        "client_api.rate_limiting.per_endpoint_overrides",
        "client_api.database",
        "user_api.worker_count",
    ):
        assert key in ignored


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    text = """
version: 3
global:
  server_name: ''
  key_validity_period: 7 days
  database:
    connection_string: mysql://root@localhost/x
    max_open_conns: 0
  cache:
    max_size_estimated: lots
  http_bind_address: 8008
  old_private_keys:
    - public_key: not-a-key
      expired_at: soon
client_api:
  registration_disabled: "no way"
  enable_registration_captcha: true
  rate_limiting:
    threshold: -5
    exempt_user_ids: [bob]
user_api:
  bcrypt_cost: 99
  auto_join_rooms: [lobby]
media_api:
  thumbnail_sizes:
    - {width: 0, height: 10, method: stretch}
federation_api: [oops]
logging:
  - type: syslog
"""
    with pytest.raises(ConfigError) as info:
        parse_config_text(text, tmp_path)
    problems = info.value.problems
    expected_prefixes = [
        "version: expected 2",
        "global.server_name: expected a server name like example.org or example.org:8448, got ''",
        "global.key_validity_period: expected a duration",
        "global.database.connection_string: expected postgresql://",
        "global.database.max_open_conns: expected a value of at least 1, got 0",
        "global.cache.max_size_estimated: expected a size",
        "global.http_bind_address: expected HOST:PORT",
        "global.old_private_keys[0].expired_at: expected an integer, got 'soon'",
        "global.old_private_keys[0].public_key: expected the base64 of a 32-byte",
        "global.old_private_keys[0].key_id: expected a key id",
        "client_api.registration_disabled: expected true or false, got 'no way'",
        "client_api.rate_limiting.threshold: expected a value of at least 1, got -5",
        "client_api.rate_limiting.exempt_user_ids[0]: expected a user id",
        "client_api.recaptcha_public_key: expected a key because enable_registration_captcha",
        "client_api.recaptcha_private_key: expected a key",
        "user_api.bcrypt_cost: expected a value from 4 to 31, got 99",
        "user_api.auto_join_rooms[0]: expected a room alias",
        "media_api.thumbnail_sizes[0].width: expected a value of at least 1, got 0",
        "media_api.thumbnail_sizes[0].method: expected crop or scale, got 'stretch'",
        "federation_api: expected a mapping, got a list",
        "logging[0].type: expected std or file, got 'syslog'",
    ]
    for prefix in expected_prefixes:
        assert any(p.startswith(prefix) for p in problems), (prefix, problems)
    assert len(problems) == len(expected_prefixes), problems
    assert str(info.value).count("\n") == len(problems) - 1


def test_yaml_syntax_error_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_config_text("global: [unclosed", tmp_path)
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="expected a mapping of sections"):
        parse_config_text("- just\n- a list\n", tmp_path)


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("file:ranvier.db", "file:{base}/ranvier.db"),
        ("file:data/r.db?cache=shared", "file:{base}/data/r.db?cache=shared"),
        ("r.db", "file:{base}/r.db"),
        ("file:/abs/r.db", "file:/abs/r.db"),
        ("file:///abs/r.db", "file:/abs/r.db"),
        (":memory:", ":memory:"),
        ("postgres://u@h/d", "postgres://u@h/d"),
    ],
)
def test_database_paths_resolve_against_config_dir(tmp_path: Path, dsn: str, expected: str) -> None:
    config = parse_config({"global": {"database": {"connection_string": dsn}}}, tmp_path)
    assert config.database.connection_string == expected.format(base=tmp_path)


def test_conn_max_lifetime_seconds_or_duration(tmp_path: Path) -> None:
    for value, seconds in ((300, 300), ("5m", 300), (-1, -1)):
        config = parse_config({"global": {"database": {"conn_max_lifetime": value}}}, tmp_path)
        assert config.database.conn_max_lifetime_seconds == seconds


def test_key_validity_plain_milliseconds(tmp_path: Path) -> None:
    config = parse_config({"global": {"key_validity_period": 86_400_000}}, tmp_path)
    assert config.global_.key_validity_period_ms == 86_400_000


def test_bind_addresses_and_tls(tmp_path: Path) -> None:
    config = parse_config(
        {
            "global": {
                "http_bind_address": "",
                "https_bind_address": "[::1]:8448",
                "tls_cert": "tls/cert.pem",
                "tls_key": "/etc/tls/key.pem",
            }
        },
        tmp_path,
    )
    g = config.global_
    assert g.http_bind_address is None
    assert g.https_bind_address == BindAddress("::1", 8448)
    assert g.tls_cert == tmp_path / "tls" / "cert.pem"
    assert g.tls_key == Path("/etc/tls/key.pem")
    with pytest.raises(ConfigError, match=r"https_bind_address: expected global\.tls_cert"):
        parse_config({"global": {"https_bind_address": ":8448"}}, tmp_path)


def test_registration_tokens_imply_requirement(tmp_path: Path) -> None:
    config = parse_config({"client_api": {"registration_tokens": ["abc-1", "x.y~z"]}}, tmp_path)
    assert config.client_api.registration_requires_token
    assert config.client_api.registration_tokens == ("abc-1", "x.y~z")
    with pytest.raises(ConfigError, match=r"registration_tokens\[0\]"):
        parse_config({"client_api": {"registration_tokens": ["has space"]}}, tmp_path)


def test_config_is_frozen() -> None:
    config = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.global_.server_name = "evil"  # type: ignore[misc]

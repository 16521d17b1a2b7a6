"""The commented YAML config file that ``ranvier generate-config`` prints.

Every value written equals the default in :mod:`ranvier.config.schema` (a test loads
the output back and compares), except the ones the operator chose on the command
line: server name, database, signing key path, media path. Sections and keys follow
Dendrite's ``dendrite.yaml`` so operators moving from Dendrite recognise the file.
"""

from __future__ import annotations

import json

_TEMPLATE = """\
# ranvier configuration.
#
# The layout follows Dendrite's dendrite.yaml (version 2): a Dendrite config file
# works with ranvier wherever the meaning is the same, and keys ranvier does not
# use are ignored. Relative paths are relative to the directory of this file.
# Durations take Go's syntax (168h0m0s, 5m, 300ms) or a number of milliseconds;
# sizes take 1gb, 512mb, 64kb or a number of bytes.
# Check a file without starting anything: ranvier check-config --config FILE

version: 2

global:
  # The domain part of your users' ids (@alice:SERVER_NAME). It can never be
  # changed once users and rooms exist. Use delegation (well_known_server_name)
  # to serve it from another host.
  server_name: {server_name}

  # The Ed25519 key this server signs events and requests with (NOT the TLS key).
  # Dendrite's PEM format and Synapse's "ed25519 a_xxxx <seed>" format both work.
  # Create one with: ranvier generate-keys --private-key {private_key}
  private_key: {private_key}

  # Keys this server used before; published to other servers until expired_at
  # (milliseconds since the epoch) so they can verify old events.
  old_private_keys:
  #  - private_key: old_matrix_key.pem
  #    expired_at: 1601024554498
  #  - public_key: <unpadded base64 public key>
  #    key_id: ed25519:a_AbCd
  #    expired_at: 1601024554498

  # How long other servers may cache our public key before asking again.
  key_validity_period: 168h0m0s

  # The one database for the whole server.
  #   SQLite:     file:ranvier.db   (a file relative to this config's directory)
  #   PostgreSQL: postgresql://user:password@host/dbname?sslmode=disable
  database:
    connection_string: {database}
    # Connection pool (PostgreSQL only).
    max_open_conns: 10
    max_idle_conns: 2
    # Seconds a pooled connection may live; -1 means forever.
    conn_max_lifetime: -1

  # In-memory caches: an estimated upper bound and the age after which entries
  # are dropped.
  cache:
    max_size_estimated: 256mb
    max_age: 1h

  # Delegation: what /.well-known/matrix/server and /.well-known/matrix/client
  # return. Leave empty when this host already serves SERVER_NAME on port 8448
  # (they then answer 404). Example: matrix.example.org:443 and
  # https://matrix.example.org
  well_known_server_name: ""
  well_known_client_name: ""

  # Identity servers trusted to verify e-mail addresses and phone numbers.
  trusted_third_party_id_servers:
    - matrix.org
    - vector.im

  # Turn federation off entirely: no talking to other servers.
  disable_federation: false

  # Exchange presence with other servers. (Ranvier extension: enabled: false turns
  # presence off altogether; local presence works with both flags false.)
  presence:
    enable_inbound: false
    enable_outbound: false
    enabled: true

  # A user that can message every user on the server (server notices).
  server_notices:
    enabled: false
    local_part: _server
    display_name: Server Alerts
    avatar_url: ""
    room_name: Server Alerts

  # Message bus. With no addresses ranvier runs its bus inside the process.
  jetstream:
    addresses:
    # - localhost:4222
    in_memory: false
    storage_path: ./
    topic_prefix: Ranvier

  # Prometheus metrics at /metrics, optionally behind HTTP basic auth.
  metrics:
    enabled: false
    basic_auth:
    #  username: metrics
    #  password: metrics

  # Cache DNS answers for outgoing federation requests.
  dns_cache:
    enabled: false
    cache_size: 256
    cache_lifetime: 5m

  # Ranvier extension: where to listen when the command line does not say
  # (--http-bind-address / --https-bind-address). "" turns a listener off.
  # HTTPS needs tls_cert and tls_key (PEM files); most deployments terminate
  # TLS in a reverse proxy instead (see docs/nginx.conf).
  http_bind_address: 127.0.0.1:8008
  https_bind_address: ""
  tls_cert: ""
  tls_key: ""

client_api:
  # Open registration. Off: create accounts with `ranvier create-account`, or
  # through the shared secret below.
  registration_disabled: true
  guests_disabled: true

  # Allows registration through /_synapse/admin/v1/register by anyone who knows
  # this secret, even when registration is disabled.
  registration_shared_secret: ""

  # Ranvier extension: require a registration token (m.login.registration_token)
  # to register; tokens listed here are accepted.
  registration_requires_token: false
  registration_tokens:
  #  - my-invite-token

  # reCAPTCHA (or hCaptcha through recaptcha_siteverify_api) on registration.
  enable_registration_captcha: false
  recaptcha_public_key: ""
  recaptcha_private_key: ""
  recaptcha_bypass_secret: ""
  recaptcha_siteverify_api: https://www.google.com/recaptcha/api/siteverify
  # Only for test set-ups whose siteverify server has a self-signed certificate.
  recaptcha_disable_tls_validation: false
  # Skip certificate checks when POSTing to push gateways (tests only).
  push_disable_tls_validation: false
  # Also serve the body-matching mention push rules removed in Matrix v1.17
  # (.m.rule.contains_user_name, .m.rule.contains_display_name, .m.rule.roomnotif).
  push_legacy_mention_rules: false

  # TURN servers handed to clients for VoIP calls.
  turn:
    turn_user_lifetime: 24h
    turn_uris:
    #  - turn:turn.example.org?transport=udp
    turn_shared_secret: ""
    turn_username: ""
    turn_password: ""

  # Ranvier extension: this server's client API URL as browsers reach it, e.g.
  # https://matrix.example.org. Needed by email validation links and SSO.
  public_base_url: ""

  # Ranvier extension: single sign-on through a CAS server (m.login.sso). Set
  # server_url to enable it (CAS sends browsers back under public_base_url).
  cas:
    server_url: ""
    display_name: CAS
    disable_tls_validation: false

  # Ranvier extension: validate email addresses (registration, adding them to
  # accounts, logging in with them) by mail. Set smtp_host to enable it.
  email:
    smtp_host: ""
    smtp_port: 25
    smtp_username: ""
    smtp_password: ""
    require_transport_security: false
    from_address: ""

  # Ranvier extension: talking to the identity servers clients name in
  # third-party invites. Their addresses obey federation_api's network lists.
  identity_servers:
    disable_tls_validation: false

  # A token bucket per client: `threshold` requests may burst, one more is
  # allowed every `cooloff_ms` milliseconds.
  rate_limiting:
    enabled: true
    threshold: 20
    cooloff_ms: 500
    exempt_user_ids:
    #  - "@bot:example.org"
    exempt_ip_addresses:
    #  - 127.0.0.1

federation_api:
  # How often to retry sending to an unreachable server (backoff 2**n seconds).
  send_max_retries: 16
  # Never in production: skip TLS certificate checks of other servers.
  disable_tls_validation: false
  disable_http_keepalives: false
  # Notary servers to ask for a server's keys when it cannot be reached.
  key_perspectives:
  #  - server_name: matrix.org
  #    keys:
  #      - key_id: ed25519:auto
  #        public_key: Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw
  prefer_direct_fetch: false
  # Outgoing requests never go to deny_networks; allow_networks is checked after.
  deny_networks:
    - 127.0.0.1/8
    - 10.0.0.0/8
    - 172.16.0.0/12
    - 192.168.0.0/16
    - 100.64.0.0/10
    - 169.254.0.0/16
    - ::1/128
    - fe80::/64
    - fc00::/7
  allow_networks:
    - 0.0.0.0/0

media_api:
  # Where uploaded files are stored.
  base_path: {media_path}
  # Largest upload in bytes (0: no limit). A reverse proxy must allow this too.
  max_file_size_bytes: 10485760
  dynamic_thumbnails: false
  max_thumbnail_generators: 10
  thumbnail_sizes:
    - width: 32
      height: 32
      method: crop
    - width: 96
      height: 96
      method: crop
    - width: 640
      height: 480
      method: scale

sync_api:
  # The header holding the client's address when behind a reverse proxy,
  # e.g. X-Real-IP. Empty: use the connection's address.
  real_ip_header: ""
  search:
    enabled: false
    index_path: ./searchindex
    language: en

user_api:
  # bcrypt work factor for passwords (4-31); each +1 doubles the CPU per login.
  bcrypt_cost: 10
  # Rooms every new user joins.
  auto_join_rooms:
  #  - "#lobby:example.org"
  openid_token_lifetime_ms: 3600000
  # The user directory (POST /user_directory/search) finds users who share a room
  # with the searcher and users in public rooms (join rule public or history
  # world_readable). true: every local account as well.
  user_directory:
    search_all_users: false

# Logging: "std" writes to stderr, "file" to ranvier.log in params.path.
# Levels: debug, info, warn, error.
logging:
  - type: std
    level: info
#  - type: file
#    level: info
#    params:
#      path: ./logs
"""


def _yaml_scalar(value: str) -> str:
    """A YAML scalar for ``value``: plain when unambiguous, else JSON-quoted."""
    plain_ok = (
        value != ""
        and value.strip() == value
        and all(c.isalnum() or c in "._-/:@+" for c in value)
        and value[0] not in "-:@"
        and value.lower() not in ("true", "false", "yes", "no", "on", "off", "null", "~")
        and not value.replace(".", "").isdigit()
    )
    return value if plain_ok else json.dumps(value)


def render_config(
    server_name: str = "localhost",
    database: str = "file:ranvier.db",
    private_key: str = "matrix_key.pem",
    media_path: str = "media_store",
) -> str:
    """The commented config file text with the given choices filled in."""
    return _TEMPLATE.format(
        server_name=_yaml_scalar(server_name),
        database=_yaml_scalar(database),
        private_key=_yaml_scalar(private_key),
        media_path=_yaml_scalar(media_path),
    )

"""Matrix identifiers: parsing and validation.

Spec: appendices "Identifier Grammar" ("Server Name", "Common Identifier
Format", "User Identifiers" incl. "Historical User IDs", "Room IDs", "Room
Aliases", "Event IDs", "Opaque Identifiers", "Common Namespaced Identifier
Grammar"); rooms/v3 and the v4 event id fragment (hash event ids); rooms/v12
(room ids without a domain).

Theory of operation: every ``parse_*`` function takes the string form and
either returns a small immutable record of its parts or raises
:class:`InvalidIdentifier` (a :class:`ValueError`) whose message says what is
wrong, suitable for an ``M_INVALID_PARAM``/``M_BAD_JSON`` error. Records
render back to the original string with ``str()``.

Leniency follows the spec: user ID localparts accept the historical
character set (any code point but ``:`` and NUL, even empty) unless
``historical=False`` is asked for, which is what registration uses. Room ids
and event ids come in two shapes, ``&opaque:domain`` (older room versions)
and ``&<43 chars of base64>`` (hash ids); when the room version is known,
pass it to require the right shape.

All lengths are in UTF-8 bytes (appendices, since v1.11).
"""

from __future__ import annotations

import ipaddress
import re
from typing import NamedTuple, NewType

from ranvier.core.room_versions import EventFormat, RoomVersion

__all__ = [
    "EventID",
    "EventIdStr",
    "InvalidIdentifier",
    "RoomAlias",
    "RoomID",
    "RoomIdStr",
    "ServerName",
    "ServerNameStr",
    "UserID",
    "UserIdStr",
    "is_valid_localpart",
    "is_valid_namespaced_id",
    "is_valid_opaque_id",
    "parse_event_id",
    "parse_room_alias",
    "parse_room_id",
    "parse_server_name",
    "parse_user_id",
    "server_name_of",
    "validate_device_id",
]

UserIdStr = NewType("UserIdStr", str)
"""A user ID string, ``@localpart:server``, already validated."""
RoomIdStr = NewType("RoomIdStr", str)
"""A room ID string, ``!opaque:server`` or ``!<hash>`` (v12), already validated."""
EventIdStr = NewType("EventIdStr", str)
"""An event ID string, ``$opaque:server`` (v1-v2) or ``$<hash>`` (v3+)."""
ServerNameStr = NewType("ServerNameStr", str)
"""A server name string, ``host[:port]``, already validated."""

MAX_ID_BYTES = 255
"""Limit on user ids, room ids, aliases and event ids (appendices)."""


class InvalidIdentifier(ValueError):
    """An identifier does not follow the grammar; the message says why."""


class ServerName(NamedTuple):
    """A parsed server name: ``host`` (DNS name, IPv4 literal or ``[IPv6]``
    literal with brackets) and optional ``port``."""

    host: str
    port: int | None

    def __str__(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"


class UserID(NamedTuple):
    """A parsed user ID ``@localpart:server_name``."""

    localpart: str
    server_name: str

    def __str__(self) -> str:
        return f"@{self.localpart}:{self.server_name}"


class RoomID(NamedTuple):
    """A parsed room ID: ``opaque`` plus ``server_name``, which is None for the
    domain-less (room v12+) form."""

    opaque: str
    server_name: str | None

    def __str__(self) -> str:
        return (
            f"!{self.opaque}" if self.server_name is None else f"!{self.opaque}:{self.server_name}"
        )


class RoomAlias(NamedTuple):
    """A parsed room alias ``#localpart:server_name``."""

    localpart: str
    server_name: str

    def __str__(self) -> str:
        return f"#{self.localpart}:{self.server_name}"


class EventID(NamedTuple):
    """A parsed event ID: ``opaque`` plus ``server_name`` for the v1-v2 form,
    None for hash ids (v3+)."""

    opaque: str
    server_name: str | None

    def __str__(self) -> str:
        return (
            f"${self.opaque}" if self.server_name is None else f"${self.opaque}:{self.server_name}"
        )


_DNS_NAME = re.compile(r"[A-Za-z0-9.\-]{1,255}", re.ASCII)
_IPV4_SHAPE = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}", re.ASCII)
_IPV4_LIKE = re.compile(r"[0-9.]+", re.ASCII)
_IPV6_CHARS = re.compile(r"[0-9A-Fa-f:.]{2,45}", re.ASCII)
_PORT = re.compile(r"[0-9]{1,5}", re.ASCII)
_STRICT_LOCALPART = re.compile(r"[a-z0-9._=\-/+]+", re.ASCII)
_HASH_ID_STD = re.compile(r"[A-Za-z0-9+/]{43}", re.ASCII)
_HASH_ID_URL = re.compile(r"[A-Za-z0-9\-_]{43}", re.ASCII)
_HASH_ID_ANY = re.compile(r"[A-Za-z0-9+/\-_]{43}", re.ASCII)
_OPAQUE = re.compile(r"[0-9A-Za-z\-._~]+", re.ASCII)
_NAMESPACED = re.compile(r"[a-z][a-z0-9\-_.]*", re.ASCII)


def parse_server_name(s: str) -> ServerName:
    """Parse ``hostname[:port]`` (appendices "Server Name").

    The hostname is a DNS name (``[A-Za-z0-9.-]``, 1-255 chars), a dotted-quad
    IPv4 literal (each part 0-255) or a bracketed IPv6 literal (RFC 3513). The
    port is 1-5 digits, at most 65535. Case is preserved (server names are
    case-sensitive).
    """
    if not isinstance(s, str) or not s:
        raise InvalidIdentifier("server name is empty")
    if s.startswith("["):
        end = s.find("]")
        if end < 0:
            raise InvalidIdentifier(f"server name {s!r} has an unclosed '['")
        host, rest = s[: end + 1], s[end + 1 :]
        literal = host[1:-1]
        if not _IPV6_CHARS.fullmatch(literal):
            raise InvalidIdentifier(f"server name {s!r} has an invalid IPv6 literal")
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            raise InvalidIdentifier(f"server name {s!r} has an invalid IPv6 literal") from None
        if rest and not rest.startswith(":"):
            raise InvalidIdentifier(f"server name {s!r} has junk after the IPv6 literal")
        port_text = rest[1:] if rest else None
    else:
        host, sep, port_text_raw = s.partition(":")
        port_text = port_text_raw if sep else None
        if not host:
            raise InvalidIdentifier(f"server name {s!r} has an empty hostname")
        if not _DNS_NAME.fullmatch(host):
            bad = next((c for c in host if not (c.isascii() and (c.isalnum() or c in ".-"))), None)
            if bad is not None:
                raise InvalidIdentifier(f"server name contains invalid character {bad!r}")
            raise InvalidIdentifier("server name hostname is longer than 255 characters")
        if _IPV4_LIKE.fullmatch(host) and (
            not _IPV4_SHAPE.fullmatch(host) or any(int(p) > 255 for p in host.split("."))
        ):
            raise InvalidIdentifier(f"server name {s!r} is not a valid IPv4 address")
    port: int | None = None
    if port_text is not None:
        if not _PORT.fullmatch(port_text):
            raise InvalidIdentifier(f"server name {s!r} has an invalid port")
        port = int(port_text)
        if not 0 < port <= 65535:
            raise InvalidIdentifier(f"server name {s!r} has a port outside 1-65535")
    return ServerName(host, port)


def _check_length(s: str, what: str) -> None:
    if len(s) > MAX_ID_BYTES or len(s.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        raise InvalidIdentifier(f"{what} is longer than {MAX_ID_BYTES} bytes")


def _check_lenient_localpart(localpart: str, what: str) -> None:
    """Any non-surrogate code point except ``:`` and NUL."""
    for c in localpart:
        if c == "\x00" or c == ":" or "\ud800" <= c <= "\udfff":
            raise InvalidIdentifier(f"{what} contains invalid character {c!r}")


def _split_sigil(s: str, sigil: str, what: str) -> tuple[str, str]:
    """Split ``&localpart:domain``; validate the domain; return both parts."""
    if not isinstance(s, str) or not s.startswith(sigil):
        raise InvalidIdentifier(f"{what} must start with {sigil!r}")
    _check_length(s, what)
    localpart, sep, domain = s[1:].partition(":")
    if not sep:
        raise InvalidIdentifier(f"{what} has no ':' separating localpart and server name")
    try:
        parse_server_name(domain)
    except InvalidIdentifier as e:
        raise InvalidIdentifier(f"{what} has an invalid server name: {e}") from None
    return localpart, domain


def is_valid_localpart(localpart: str, historical: bool = True) -> bool:
    """Whether ``localpart`` is a valid user ID localpart.

    Strict (``historical=False``): non-empty, only ``a-z 0-9 . _ = - / +``.
    Historical: any non-surrogate code point except ``:`` and NUL, empty allowed.
    """
    if historical:
        try:
            _check_lenient_localpart(localpart, "localpart")
        except InvalidIdentifier:
            return False
        return True
    return _STRICT_LOCALPART.fullmatch(localpart) is not None


def parse_user_id(s: str, *, historical: bool = True) -> UserID:
    """Parse ``@localpart:server_name`` (appendices "User Identifiers").

    ``historical=True`` (the default, for ids found in events) accepts the
    historical character set; ``historical=False`` requires the current
    grammar (for ids this server creates).
    """
    localpart, domain = _split_sigil(s, "@", "user ID")
    if historical:
        _check_lenient_localpart(localpart, "localpart")
    else:
        if not localpart:
            raise InvalidIdentifier("localpart is empty")
        for c in localpart:
            if not _STRICT_LOCALPART.fullmatch(c):
                raise InvalidIdentifier(f"localpart contains invalid character {c!r}")
    return UserID(localpart, domain)


def parse_room_alias(s: str) -> RoomAlias:
    """Parse ``#localpart:server_name`` (appendices "Room Aliases"). The localpart
    is non-empty and may hold any non-surrogate code point but ``:`` and NUL."""
    localpart, domain = _split_sigil(s, "#", "room alias")
    if not localpart:
        raise InvalidIdentifier("room alias localpart is empty")
    _check_lenient_localpart(localpart, "room alias localpart")
    return RoomAlias(localpart, domain)


def parse_room_id(s: str, room_version: RoomVersion | None = None) -> RoomID:
    """Parse a room ID (appendices "Room IDs").

    ``!opaque:server_name`` for rooms v1-v11, ``!`` + 43 URL-safe Base64
    characters (the create event's reference hash) for v12+. Without a room
    version either shape is accepted.
    """
    if not isinstance(s, str) or not s.startswith("!"):
        raise InvalidIdentifier("room ID must start with '!'")
    _check_length(s, "room ID")
    hashed = room_version.room_id_from_create_event if room_version is not None else ":" not in s
    if hashed:
        if not _HASH_ID_URL.fullmatch(s[1:]):
            raise InvalidIdentifier("room ID must be '!' and 43 URL-safe base64 characters")
        return RoomID(s[1:], None)
    opaque, domain = _split_sigil(s, "!", "room ID")
    if not opaque:
        raise InvalidIdentifier("room ID localpart is empty")
    _check_lenient_localpart(opaque, "room ID localpart")
    return RoomID(opaque, domain)


def parse_event_id(s: str, room_version: RoomVersion | None = None) -> EventID:
    """Parse an event ID (appendices "Event IDs"; rooms v1/v3/v4 "Event IDs").

    Rooms v1-v2: ``$opaque:server_name``. Room v3: ``$`` + 43 standard
    Base64 characters; v4+: ``$`` + 43 URL-safe ones. Without a room version
    either shape is accepted (hash ids in either alphabet).
    """
    if not isinstance(s, str) or not s.startswith("$"):
        raise InvalidIdentifier("event ID must start with '$'")
    _check_length(s, "event ID")
    if room_version is None:
        if _HASH_ID_ANY.fullmatch(s[1:]):
            return EventID(s[1:], None)
    elif room_version.event_format is EventFormat.V2:
        if not _HASH_ID_STD.fullmatch(s[1:]):
            raise InvalidIdentifier("event ID must be '$' and 43 base64 characters")
        return EventID(s[1:], None)
    elif room_version.event_format is EventFormat.V3:
        if not _HASH_ID_URL.fullmatch(s[1:]):
            raise InvalidIdentifier("event ID must be '$' and 43 URL-safe base64 characters")
        return EventID(s[1:], None)
    opaque, domain = _split_sigil(s, "$", "event ID")
    if not opaque:
        raise InvalidIdentifier("event ID localpart is empty")
    _check_lenient_localpart(opaque, "event ID localpart")
    return EventID(opaque, domain)


def server_name_of(identifier: str) -> str:
    """The server name part of a ``&localpart:server`` identifier (everything
    after the first ``:``). Raises :class:`InvalidIdentifier` if there is none."""
    _, sep, domain = identifier.partition(":")
    if not sep or not domain:
        raise InvalidIdentifier(f"{identifier!r} has no server name")
    return domain


def is_valid_opaque_id(s: str, max_length: int = 255) -> bool:
    """Appendices "Opaque Identifiers": 1..max_length of ``[0-9A-Za-z-._~]``."""
    return 0 < len(s) <= max_length and _OPAQUE.fullmatch(s) is not None


def is_valid_namespaced_id(s: str) -> bool:
    """Appendices "Common Namespaced Identifier Grammar": 1-255 chars, starting
    with ``[a-z]``, then ``[a-z0-9-_.]``."""
    return 0 < len(s) <= 255 and _NAMESPACED.fullmatch(s) is not None


def validate_device_id(s: str, *, strict: bool = False) -> None:
    """Check a device ID.

    ``strict`` applies the Opaque Identifier grammar (the RFC 3986 unreserved
    set, as the spec asks clients to use). Otherwise, since the legacy login
    API lets clients choose any string, only what the OAuth 2.0 scope grammar
    (RFC 6749 section 3.3: printable ASCII except space, ``"`` and ``\\``)
    allows is accepted, so the device id can always appear in a
    ``urn:matrix:client:device:<id>`` scope. Length 1-255 bytes.
    """
    if not isinstance(s, str) or not s:
        raise InvalidIdentifier("device ID is empty")
    if len(s.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        raise InvalidIdentifier(f"device ID is longer than {MAX_ID_BYTES} bytes")
    for c in s:
        ok = (_OPAQUE.fullmatch(c) is not None) if strict else ("!" <= c <= "~" and c not in '"\\')
        if not ok:
            raise InvalidIdentifier(f"device ID contains invalid character {c!r}")

"""The ``X-Matrix`` Authorization header: build, sign, parse, verify (no I/O).

Spec: server-server-api "Request Authentication"; the header grammar is RFC 9110
section 11.4 (``credentials = auth-scheme [ 1*SP #auth-param ]``, ``auth-param = token
BWS "=" BWS ( token / quoted-string )``) with the compatibility rules the spec adds.

Theory of operation: a request is authenticated by signing, with the origin's
server key, the JSON object ``{"method", "uri", "origin", "destination",
"content"?}`` (appendices "Signing JSON"), where ``uri`` is the request target as
sent (path and query, percent-encoded, no scheme or host) and ``content`` the
parsed JSON body when there is one. The signature travels in
``Authorization: X-Matrix origin="...",destination="...",key="ed25519:...",sig="..."``.

Sending follows the spec's advice for old receivers: one space after the scheme,
lower-case names, no whitespace around commas, values always quoted (server
names never contain ``"`` or ``\\``; keys and signatures are Base64 and key ids).

Parsing is the RFC grammar: the scheme is compared case-insensitively, names are
case-insensitive, any order, spaces and tabs allowed around commas and ``=``,
values are tokens or quoted strings whose backslash escapes are undone; for old
senders an unquoted value may contain ``:``. A name given twice, an unterminated
quote, a missing ``=``, junk after a value, or a missing ``origin``/``key``/``sig``
is a :class:`XMatrixParseError`. Unknown parameters are ignored; ``destination``
is optional when parsing (servers before v1.3 did not send it) but always sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import nacl.signing

from ranvier.core.b64 import encode_base64
from ranvier.core.canonical_json import encode_canonical_json
from ranvier.core.signing import ED25519, SignatureError, SigningKey, verify_json_signature

__all__ = [
    "XMatrixAuth",
    "XMatrixParseError",
    "authorization_header",
    "parse_authorization",
    "request_json",
    "verify_request",
]

SCHEME = "X-Matrix"

# RFC 9110 5.6.2 tchar, plus ":" which old senders left unquoted.
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_UNQUOTED_VALUE_CHARS = _TOKEN_CHARS | {":"}
_WS = " \t"


class XMatrixParseError(ValueError):
    """The Authorization header is not a well-formed ``X-Matrix`` credential."""


@dataclass(frozen=True, slots=True)
class XMatrixAuth:
    """The parameters of an ``X-Matrix`` header."""

    origin: str
    destination: str | None
    key: str
    sig: str


def request_json(
    method: str, uri: str, origin: str, destination: str, content: Any = None
) -> dict[str, Any]:
    """The object whose signature authenticates a request (step 1 of the spec).

    ``content`` is the parsed JSON body, or None for a request without a body.
    """
    obj: dict[str, Any] = {
        "method": method,
        "uri": uri,
        "origin": origin,
        "destination": destination,
    }
    if content is not None:
        obj["content"] = content
    return obj


def authorization_header(
    key: SigningKey,
    origin: str,
    destination: str,
    method: str,
    uri: str,
    content: Any = None,
) -> str:
    """The ``Authorization`` header value for a request signed with ``key``."""
    message = encode_canonical_json(request_json(method, uri, origin, destination, content))
    sig = encode_base64(key.sign(message))
    return (
        f'{SCHEME} origin="{_quote(origin)}",destination="{_quote(destination)}",'
        f'key="{_quote(key.key_id)}",sig="{sig}"'
    )


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def parse_authorization(header: str) -> XMatrixAuth:
    """Parse an ``Authorization`` header value holding ``X-Matrix`` credentials.

    Raises :class:`XMatrixParseError` saying what is wrong.
    """
    scheme_end = 0
    while scheme_end < len(header) and header[scheme_end] in _TOKEN_CHARS:
        scheme_end += 1
    if header[:scheme_end].lower() != SCHEME.lower():
        raise XMatrixParseError("Authorization scheme is not X-Matrix")
    if scheme_end >= len(header) or header[scheme_end] != " ":
        raise XMatrixParseError("X-Matrix credentials need a space after the scheme")
    params = _parse_params(header, scheme_end)
    try:
        origin, key, sig = params["origin"], params["key"], params["sig"]
    except KeyError as e:
        raise XMatrixParseError(f"X-Matrix header has no {e.args[0]!r} parameter") from None
    if not origin or not key or not sig:
        raise XMatrixParseError("X-Matrix origin, key and sig must not be empty")
    return XMatrixAuth(origin, params.get("destination"), key, sig)


def _parse_params(s: str, i: int) -> dict[str, str]:
    """``#auth-param`` from ``s[i:]``: a comma list, empty elements allowed (RFC 9110 5.6.1)."""
    params: dict[str, str] = {}
    n = len(s)
    while True:
        while i < n and (s[i] in _WS or s[i] == ","):
            i += 1
        if i >= n:
            break
        start = i
        while i < n and s[i] in _TOKEN_CHARS:
            i += 1
        name = s[start:i].lower()
        if not name:
            raise XMatrixParseError(f"X-Matrix header: expected a parameter name at {start}")
        while i < n and s[i] in _WS:
            i += 1
        if i >= n or s[i] != "=":
            raise XMatrixParseError(f"X-Matrix header: parameter {name!r} has no value")
        i += 1
        while i < n and s[i] in _WS:
            i += 1
        if i < n and s[i] == '"':
            value, i = _quoted_string(s, i)
        else:
            start = i
            while i < n and s[i] in _UNQUOTED_VALUE_CHARS:
                i += 1
            value = s[start:i]
            if not value:
                raise XMatrixParseError(f"X-Matrix header: parameter {name!r} has no value")
        while i < n and s[i] in _WS:
            i += 1
        if i < n and s[i] != ",":
            raise XMatrixParseError(f"X-Matrix header: unexpected {s[i]!r} after {name!r}")
        if name in params:
            raise XMatrixParseError(f"X-Matrix header: parameter {name!r} given twice")
        params[name] = value
    return params


def _quoted_string(s: str, i: int) -> tuple[str, int]:
    """Parse the quoted string opening at ``s[i]``; return (unescaped value, index after)."""
    out: list[str] = []
    i += 1
    n = len(s)
    while i < n:
        c = s[i]
        if c == '"':
            return "".join(out), i + 1
        if c == "\\":
            if i + 1 >= n:
                break
            out.append(s[i + 1])
            i += 2
            continue
        if c in "\r\n\x00":
            raise XMatrixParseError("X-Matrix header: control character in a quoted value")
        out.append(c)
        i += 1
    raise XMatrixParseError("X-Matrix header: unterminated quoted value")


def verify_request(
    auth: XMatrixAuth,
    verify_key: nacl.signing.VerifyKey | bytes,
    method: str,
    uri: str,
    destination: str,
    content: Mapping[str, Any] | None,
) -> None:
    """Check ``auth.sig`` over the request's JSON. Raises :class:`SignatureError`.

    ``destination`` is the receiving server's own name (checking that the header's
    ``destination``, when present, names it is the caller's job: it is a 401 of its own).
    """
    if not auth.key.startswith(ED25519 + ":"):
        raise SignatureError(f"unsupported key algorithm in {auth.key!r}")
    obj = request_json(method, uri, auth.origin, destination, content)
    obj["signatures"] = {auth.origin: {auth.key: auth.sig}}
    verify_json_signature(obj, auth.origin, auth.key, verify_key)

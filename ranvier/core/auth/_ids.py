"""Identifier helpers the authorization rules need (private to this package).

The rules compare server names (``m.federate``, ``m.room.aliases``, v1-v2
redactions, create events) and validate user ids (``users`` in power levels,
v12 ``additional_creators``). User ids are validated with the *historical*
grammar that servers must still accept over federation (spec appendices,
"Historical User IDs"): ``@`` + a localpart of any code points except ``:``
and NUL + ``:`` + a server name, at most 255 bytes in UTF-8. The server name
follows the grammar of appendices "Server Name".
"""

from __future__ import annotations

import re

_PORT = r"(?::[0-9]{1,5})?"
_SERVER_NAME = re.compile(
    r"(?:"
    r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"  # IPv4address
    r"|\[[0-9A-Fa-f:.]{2,45}\]"  # "[" IPv6address "]"
    r"|[0-9A-Za-z.\-]{1,255}"  # dns-name
    r")" + _PORT,
    re.ASCII,
)


def is_valid_server_name(name: str) -> bool:
    """True if ``name`` matches the spec's ``server_name`` grammar (appendices, "Server Name")."""
    return _SERVER_NAME.fullmatch(name) is not None


def is_valid_user_id(user_id: object) -> bool:
    """True if ``user_id`` is a user id servers must accept in events.

    Spec: appendices "User Identifiers" and "Historical User IDs" (any localpart
    without ``:`` or NUL, possibly empty; the whole id at most 255 bytes).
    """
    if not isinstance(user_id, str) or not user_id.startswith("@"):
        return False
    localpart, sep, server = user_id[1:].partition(":")
    if not sep or "\x00" in localpart:
        return False
    if len(user_id.encode("utf-8", "surrogatepass")) > 255:
        return False
    if any("\ud800" <= ch <= "\udfff" for ch in localpart):
        return False
    return is_valid_server_name(server)


def domain_of(identifier: str) -> str:
    """The server name of ``@user:server``, ``!room:server`` or ``$event:server``.

    Everything after the first ``:`` (server names may contain ``:port``).
    Returns ``""`` for an identifier without a domain (e.g. v3+ event ids).
    """
    _, sep, domain = identifier.partition(":")
    return domain if sep else ""

"""Server ACLs (``m.room.server_acl``): may a server take part in a room? (pure)

Spec: client-server-api "Server Access Control Lists (ACLs) for rooms" and the
``m.room.server_acl`` event; server-server-api "Server Access Control Lists (ACLs)".

The server name is compared without its port. When ``allow_ip_literals`` is false an
IP literal (IPv4 or ``[IPv6]``) is denied; then a match of any ``deny`` glob denies,
a match of any ``allow`` glob allows, and anything else is denied (an absent
``allow`` allows nobody). Globs use ``*`` (any run of characters) and ``?`` (one
character). Without an ACL event every server is allowed.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern[str]:
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _host(server_name: str) -> str:
    if server_name.startswith("["):
        end = server_name.find("]")
        return server_name[: end + 1] if end != -1 else server_name
    return server_name.rsplit(":", 1)[0] if server_name.count(":") == 1 else server_name


def _is_ip_literal(host: str) -> bool:
    if host.startswith("[") and host.endswith("]"):
        return True
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def _globs(content: Any, key: str) -> list[str]:
    value = content.get(key) if isinstance(content, dict) else None
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def server_allowed(acl_content: Any, server_name: str) -> bool:
    """Whether the ACL content (None: no ACL event) lets ``server_name`` in."""
    if acl_content is None:
        return True
    host = _host(server_name)
    allow_ip = acl_content.get("allow_ip_literals", True) if isinstance(acl_content, dict) else True
    if allow_ip is False and _is_ip_literal(host):
        return False
    if any(_glob(p).fullmatch(host) for p in _globs(acl_content, "deny")):
        return False
    return any(_glob(p).fullmatch(host) for p in _globs(acl_content, "allow"))

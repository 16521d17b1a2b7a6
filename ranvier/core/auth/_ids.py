"""Identifier helpers the authorization rules need (private to this package).

The rules compare server names (``m.federate``, ``m.room.aliases``, v1-v2
redactions, create events, restricted-join signatures) and validate user ids
(``users`` in power levels, v12 ``additional_creators``). User ids are validated
with the *historical* grammar that servers must still accept over federation
(spec appendices, "Historical User IDs"), the same validation applied to an
event's ``sender``; the grammar itself lives in :mod:`ranvier.core.ids`.
"""

from __future__ import annotations

from functools import lru_cache

from ranvier.core.ids import InvalidIdentifier, parse_user_id


def is_valid_user_id(user_id: object) -> bool:
    """True if ``user_id`` is a user id servers must accept in events.

    Spec: appendices "User Identifiers" and "Historical User IDs" (any localpart
    without ``:`` or NUL; a valid server name; at most 255 bytes).
    """
    if not isinstance(user_id, str):
        return False
    return _valid_user_id_str(user_id)


@lru_cache(maxsize=1 << 16)
def _valid_user_id_str(user_id: str) -> bool:
    """Memoised grammar check: state resolution re-checks the same power levels
    ``users`` maps many times, and the answer depends only on the string."""
    try:
        parse_user_id(user_id, historical=True)
    except InvalidIdentifier:
        return False
    return True


def domain_of(identifier: str) -> str:
    """The server name of ``@user:server``, ``!room:server`` or ``$event:server``.

    Everything after the first ``:`` (server names may contain ``:port``).
    Returns ``""`` for an identifier without a domain (e.g. v3+ event ids);
    callers comparing two domains check for that.
    """
    _, sep, domain = identifier.partition(":")
    return domain if sep else ""

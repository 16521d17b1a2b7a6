"""History visibility: may a user see an event? (pure rules)

Spec: client-server-api "Room History Visibility", "Server behaviour". With the state
of the room at the event: (1) ``world_readable`` allows anyone; (2) a user whose
membership was ``join`` is allowed; (3) with ``shared``, a user who joined at any
point after the event is allowed; (4) with ``invited``, a user whose membership was
``invite`` is allowed; (5) otherwise deny. A missing or unknown value counts as
``shared``. For ``m.room.history_visibility`` events, and for the user's own
``m.room.member`` events, the state before *or* after the event may allow it; the
caller evaluates :func:`allowed` for both and ORs the results.
"""

from __future__ import annotations

from typing import Any

KNOWN = frozenset({"world_readable", "shared", "invited", "joined"})


def visibility_of(content: Any) -> str:
    """The ``history_visibility`` of an event's content, defaulting to ``shared``."""
    value = content.get("history_visibility") if isinstance(content, dict) else None
    return value if value in KNOWN else "shared"


def allowed(visibility: str, membership: str | None, joined_later: bool) -> bool:
    """Rules 1-5 for one state: ``membership`` is the user's at the event (None if none)
    and ``joined_later`` says whether they joined the room after the event."""
    if visibility == "world_readable":
        return True
    if membership == "join":
        return True
    if visibility == "shared" and joined_later:
        return True
    return visibility == "invited" and membership == "invite"

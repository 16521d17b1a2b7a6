"""The ``account_data`` sections of ``/sync``: global and per room (client-server-api
"Client Config", "Syncing").

Account data lives in :class:`ranvier.users.account_data.AccountDataStore`, whose writes
take positions of the ``account_data`` stream; a sync sends the entries written in
``(since, upto]`` (all of them on an initial sync) as ``{"type", "content"}`` events,
global ones filtered by the filter's ``account_data`` and room ones by
``room.account_data``. A ``limit`` is not applied: entries left out would never be
sent again, as the next sync starts after them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ranvier.core.events import JsonDict
from ranvier.sync.request import SyncRequest
from ranvier.users.account_data import AccountDataStore


@dataclass(slots=True)
class AccountDataSection:
    """Account data to send: global events and events per room."""

    global_events: list[JsonDict] = field(default_factory=list)
    by_room: dict[str, list[JsonDict]] = field(default_factory=dict)


async def account_data_section(store: AccountDataStore, req: SyncRequest) -> AccountDataSection:
    """The account data changes of ``req``'s range."""
    after = 0 if req.since is None or req.full_state else req.since.account_data
    out = AccountDataSection()
    if after >= req.upto.account_data:
        return out
    changes = await store.changes_since(req.user_id, after, req.upto.account_data)
    room_filter = req.filter.room
    for change in changes:
        event = {"type": change.data_type, "content": change.content}
        if change.room_id is None:
            if req.filter.account_data.allows(change.data_type, None):
                out.global_events.append(event)
        elif room_filter.account_data.allows(change.data_type, None):
            out.by_room.setdefault(change.room_id, []).append(event)
    return out


IGNORED_USER_LIST = "m.ignored_user_list"


async def ignored_users(store: AccountDataStore, user_id: str) -> frozenset[str]:
    """The users ``user_id`` ignores (client-server-api "Ignoring Users"): their
    non-state events and their invites are not sent to ``user_id``."""
    content = await store.get(user_id, None, IGNORED_USER_LIST)
    users = (content or {}).get("ignored_users")
    return (
        frozenset(u for u in users if isinstance(u, str))
        if isinstance(users, dict)
        else frozenset()
    )

"""The device list stream: which users' devices or cross-signing keys changed, in order
(migration ``1100_e2ee_keys.sql``).

Spec: client-server-api "Tracking the device list for a user" (``device_lists.changed``
of ``/sync`` and ``GET /keys/changes``: users "who have updated their device identity
keys", "left": users "who no longer share any encrypted room"), server-server-api
"Device Management" (each ``m.device_list_update`` carries the ``stream_id`` of the
change and the ``prev_id`` of the changes it follows).

Theory of operation
-------------------
:meth:`DeviceListStream.record` takes the next position of the ``device_lists``
stream (``UPDATE ... RETURNING`` on ``sync_stream_positions``, so positions commit in
order) and writes one row per changed ``(user, device)``; ``device_id`` is ``""`` for a
change of the cross-signing keys, and :func:`private_to` ``(viewer)`` for a change only
``viewer`` may hear of (their own user-signing key, their signature on another user's
master key: client-server-api "Cross-signing", only the signer sees those).
Local and remote users share the stream (remote
changes arrive as EDUs). After the commit the listeners hear the users and the
position: the sync notifier wakes the users who share a room with them, and the
federation producer tells the other servers.

The sharing questions (:meth:`sharing_users`, :meth:`shares_room`) read the rooms'
current memberships (``room_memberships``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

import orjson

from ranvier.db.api import Database

PRIVATE_PREFIX = "*for:"


def private_to(viewer: str) -> str:
    """The ``device_id`` of a change that only ``viewer`` hears of."""
    return PRIVATE_PREFIX + viewer


def viewer_of(device_id: str) -> str | None:
    """The only user who hears of a change with this ``device_id`` (None: everyone)."""
    return device_id[len(PRIVATE_PREFIX) :] if device_id.startswith(PRIVATE_PREFIX) else None


DeviceListListener = Callable[[list[tuple[str, str]], int], Awaitable[None]]
"""``await listener([(user_id, device_id), ...], position)`` after a committed change."""


class DeviceListStream:
    """The ``device_list_stream`` table, its position, and room-sharing queries."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.listeners: list[DeviceListListener] = []

    async def current_position(self) -> int:
        """The latest position handed out."""
        row = await self.db.fetchone(
            "SELECT position FROM sync_stream_positions WHERE stream = 'device_lists'"
        )
        return 0 if row is None else int(row[0])

    async def record(self, changes: Iterable[tuple[str, str]]) -> int | None:
        """Record changed ``(user_id, device_id)`` pairs at one new position, then tell
        the listeners; returns the position (None when ``changes`` is empty)."""
        pairs = sorted(set(changes))
        if not pairs:
            return None
        async with self.db.transaction() as conn:
            row = await conn.fetchone(
                "UPDATE sync_stream_positions SET position = position + 1"
                " WHERE stream = 'device_lists' RETURNING position"
            )
            assert row is not None
            position = int(row[0])
            await conn.executemany(
                "INSERT INTO device_list_stream (stream_id, user_id, device_id)"
                " VALUES ($1, $2, $3)",
                [(position, u, d) for u, d in pairs],
            )
        for listener in list(self.listeners):
            await listener(pairs, position)
        return position

    async def changes(self, after: int, upto: int) -> set[tuple[str, str]]:
        """``(user_id, device_id)`` of the changes in ``(after, upto]``."""
        rows = await self.db.fetchall(
            "SELECT DISTINCT user_id, device_id FROM device_list_stream WHERE stream_id > $1"
            " AND stream_id <= $2",
            after,
            upto,
        )
        return {(str(r[0]), str(r[1])) for r in rows}

    async def changed_users(self, after: int, upto: int, viewer: str | None = None) -> set[str]:
        """Users with a change in ``(after, upto]`` that ``viewer`` hears of (None: the
        changes everyone hears of)."""
        out: set[str] = set()
        for user_id, device_id in await self.changes(after, upto):
            only = viewer_of(device_id)
            if only is None or only == viewer:
                out.add(user_id)
        return out

    async def previous_id(self, user_id: str, before: int) -> int | None:
        """The user's latest change before position ``before`` (an EDU's ``prev_id``)."""
        row = await self.db.fetchone(
            "SELECT MAX(stream_id) FROM device_list_stream WHERE user_id = $1 AND stream_id < $2",
            user_id,
            before,
        )
        return None if row is None or row[0] is None else int(row[0])

    async def latest_id(self, user_id: str) -> int:
        """The user's latest change (0 if none): the ``stream_id`` of ``/user/devices``."""
        row = await self.db.fetchone(
            "SELECT MAX(stream_id) FROM device_list_stream WHERE user_id = $1", user_id
        )
        return 0 if row is None or row[0] is None else int(row[0])

    # ---- who shares a room with whom -------------------------------------------------

    async def sharing_users(self, user_id: str) -> set[str]:
        """Users joined to a room ``user_id`` is joined to (``user_id`` included when
        joined anywhere)."""
        rows = await self.db.fetchall(
            "SELECT DISTINCT b.user_id FROM room_memberships a JOIN room_memberships b"
            " ON b.room_nid = a.room_nid WHERE a.user_id = $1 AND a.membership = 'join'"
            " AND b.membership = 'join'",
            user_id,
        )
        return {str(r[0]) for r in rows}

    async def shares_room_with_server(self, user_id: str, server_name: str) -> bool:
        """Whether ``user_id`` is joined to a room with a joined user of ``server_name``."""
        row = await self.db.fetchone(
            "SELECT 1 FROM room_memberships a JOIN room_memberships b ON b.room_nid = a.room_nid"
            " WHERE a.user_id = $1 AND a.membership = 'join' AND b.membership = 'join'"
            " AND b.user_id LIKE $2 LIMIT 1",
            user_id,
            "%:" + server_name.replace("%", r"\%").replace("_", r"\_"),
        )
        return row is not None

    async def joined_rooms(self, user_id: str) -> list[str]:
        """Ids of the rooms ``user_id`` is joined to."""
        rows = await self.db.fetchall(
            "SELECT r.room_id FROM room_memberships m JOIN rooms r ON r.room_nid = m.room_nid"
            " WHERE m.user_id = $1 AND m.membership = 'join'",
            user_id,
        )
        return [str(r[0]) for r in rows]

    async def joined_members(self, room_id: str) -> set[str]:
        """Users joined to ``room_id`` now."""
        rows = await self.db.fetchall(
            "SELECT m.user_id FROM room_memberships m JOIN rooms r ON r.room_nid = m.room_nid"
            " WHERE r.room_id = $1 AND m.membership = 'join'",
            room_id,
        )
        return {str(r[0]) for r in rows}

    async def membership_changes(
        self, user_id: str, after: int, upto: int
    ) -> list[tuple[str, str, str]]:
        """``(room_id, state_key, membership)`` of the member events in ``(after, upto]``
        of the events stream, in rooms where ``user_id`` has a membership now."""
        rows = await self.db.fetchall(
            "SELECT r.room_id, k.state_key, e.json FROM room_memberships m"
            " JOIN events e ON e.room_nid = m.room_nid"
            " JOIN rooms r ON r.room_nid = m.room_nid"
            " JOIN event_type_nids t ON t.type_nid = e.type_nid"
            " JOIN state_key_nids k ON k.state_key_nid = e.state_key_nid"
            " WHERE m.user_id = $1 AND t.event_type = 'm.room.member'"
            " AND e.stream_ordering > $2 AND e.stream_ordering <= $3 AND NOT e.rejected"
            " AND NOT e.soft_failed ORDER BY e.stream_ordering",
            user_id,
            after,
            upto,
        )
        out: list[tuple[str, str, str]] = []
        for room_id, state_key, raw in rows:
            membership = orjson.loads(str(raw)).get("content", {}).get("membership")
            if isinstance(membership, str):
                out.append((str(room_id), str(state_key), membership))
        return out

"""Notifications and unread counts per user, room and thread (client-server-api
"Receiving notifications", "Marking notifications as read", "Threaded read receipts";
notifications.yaml).

Theory of operation
-------------------
``push_notifications`` keeps one row per event that notified a user (its actions,
whether it highlights, its thread), for ``GET /notifications`` and for recounting.
``push_counts`` keeps, per user, room and thread (``main`` for the main timeline), the
unread ``notif_count``/``highlight_count`` and ``read_ordering``: the stream ordering
up to which the user has read that thread (their furthest ``m.read``/``m.read.private``
receipt covering it, or their own latest event in it).

:meth:`NotificationStore.record_many` does no I/O: it keeps each event's changes
(who it notifies, whose counts it resets) in memory, indexed by user, and
:meth:`NotificationStore.flush` writes them after ``flush_delay_s`` (or at
``flush_ops`` events) in one transaction: per event one multi-row upsert that
increments the counts of threads whose ``read_ordering`` is still before the event (so
an event processed after the user already read past it is not counted), the
sender's reset, then every queued ``push_notifications`` row. Measured with the HTTP
benchmark (10 senders, one room), a transaction per event cost 0.45 ms of CPU per
message -- more than half of what sending the message costs -- because it blocks the
SQLite writer's group commit and hands off to its thread; batched it is a few percent.
Rows written one event at a time also dirtied one index page per recipient per commit.

Readers see the pending changes: :meth:`NotificationStore.thread_counts` reads the
table and applies the user's pending changes on top, under the flush lock, so a count
is never missing or doubled while a flush commits. Everything that reads the rows
themselves (a receipt's recount, ``GET /notifications``, erasure) flushes first. A
crash loses at most the last ``flush_delay_s`` of changes (counts then catch up at
the user's next receipt or own message).

:meth:`NotificationStore.mark_read` moves ``read_ordering`` forward only (receipts of
either type count; the furthest wins, as the spec asks): an unthreaded receipt for
every thread of the room, a threaded one for its thread only. It then recounts the
notifications after it, so the count is exact whatever order events and receipts
arrive in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ranvier.db.api import Connection, Database

MAIN = "main"
"""The thread id of the main timeline."""

_MAX_ROWS = 1000
"""Rows per multi-row statement (SQLite and PostgreSQL allow 32,766 parameters)."""


@dataclass(frozen=True, slots=True)
class Notified:
    """A user an event notifies, with the actions of the matching rule."""

    user_id: str
    actions: list[Any]
    highlight: bool
    actions_json: str = ""
    """``actions`` as JSON when already encoded (shared by the users of one
    evaluation), else empty."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """What one event changes: who it notifies, and the local sender who has read
    its thread up to it."""

    room_id: str
    event_id: str
    stream_ordering: int
    ts: int
    notified: Sequence[Notified]
    reader: str | None = None
    thread_id: str = MAIN


@dataclass(frozen=True, slots=True)
class NotificationRow:
    """One row of ``GET /notifications``."""

    room_id: str
    event_id: str
    stream_ordering: int
    actions: list[Any]
    highlight: bool
    ts: int
    read: bool


Counts = tuple[int, int]
"""``(notification_count, highlight_count)``."""


def _increment_counts(e: Recorded, notified: Sequence[Notified]) -> tuple[Any, ...]:
    """One upsert adding 1 (and the highlight) to each notified user's counts of the
    event's thread, unless they have read past the event."""
    values = []
    args: list[Any] = [e.room_id, e.thread_id, e.stream_ordering]
    for n in notified:
        i = len(args)
        values.append(f"(${i + 1}, $1, $2, 1, ${i + 2}, 0)")
        args += [n.user_id, int(n.highlight)]
    sql = (
        "INSERT INTO push_counts (user_id, room_id, thread_id, notif_count, "
        "highlight_count, read_ordering) VALUES " + ", ".join(values) + " "
        "ON CONFLICT (user_id, room_id, thread_id) "
        "DO UPDATE SET notif_count = push_counts.notif_count + 1, "
        "highlight_count = push_counts.highlight_count + EXCLUDED.highlight_count "
        "WHERE push_counts.read_ordering < $3"
    )
    return (sql, *args)


class NotificationStore:
    """Reads and writes ``push_notifications`` and ``push_counts``."""

    def __init__(self, db: Database, flush_delay_s: float = 0.5, flush_ops: int = 2000) -> None:
        self.db = db
        self.flush_delay_s = flush_delay_s
        self.flush_ops = flush_ops
        self._ops: list[Recorded] = []
        self._by_user: dict[str, list[tuple[str, str, int, bool, bool]]] = {}
        """``user -> [(room_id, thread_id, stream_ordering, highlight, is_reset)]``."""
        self._flush_lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()

    # ---- writing --------------------------------------------------------------------

    async def record(
        self,
        room_id: str,
        event_id: str,
        stream_ordering: int,
        ts: int,
        notified: Sequence[Notified],
        reader: str | None = None,
        thread_id: str = MAIN,
    ) -> None:
        """Record an event's notifications; ``reader`` (the local sender) has read the
        event's thread up to it."""
        await self.record_many(
            [Recorded(room_id, event_id, stream_ordering, ts, notified, reader, thread_id)]
        )

    async def record_many(self, events: Sequence[Recorded]) -> None:
        """:meth:`record` for several events (in stream order per room); written by
        the next :meth:`flush`."""
        added = False
        for e in events:
            if e.notified or e.reader is not None:
                self._ops.append(e)
                self._index(e)
                added = True
        if not added:
            return
        if len(self._ops) >= self.flush_ops:
            self._start_flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(
                self.flush_delay_s, self._start_flush
            )

    def _index(self, e: Recorded) -> None:
        for n in e.notified:
            self._by_user.setdefault(n.user_id, []).append(
                (e.room_id, e.thread_id, e.stream_ordering, n.highlight, False)
            )
        if e.reader is not None:
            self._by_user.setdefault(e.reader, []).append(
                (e.room_id, e.thread_id, e.stream_ordering, False, True)
            )

    def _start_flush(self) -> None:
        self._timer = None
        task = asyncio.get_running_loop().create_task(self.flush())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def flush(self) -> None:
        """Write the pending changes (module docstring)."""
        async with self._flush_lock:
            await self._flush_locked()

    async def _flush_locked(self) -> None:
        ops, self._ops = self._ops, []
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not ops:
            return
        rows: list[tuple[Any, ...]] = []
        try:
            async with self.db.transaction() as conn:
                for e in ops:
                    for at in range(0, len(e.notified), _MAX_ROWS):
                        chunk = e.notified[at : at + _MAX_ROWS]
                        await conn.execute(*_increment_counts(e, chunk))
                    if e.reader is not None:
                        # The sender's own event: the room's events are processed in
                        # order, so nothing after it has notified them yet.
                        await conn.execute(
                            "UPDATE push_counts SET notif_count = 0, highlight_count = 0, "
                            "read_ordering = $4 WHERE user_id = $1 AND room_id = $2 "
                            "AND thread_id = $3 AND read_ordering < $4",
                            e.reader,
                            e.room_id,
                            e.thread_id,
                            e.stream_ordering,
                        )
                    for n in e.notified:
                        rows.append(
                            (
                                n.user_id,
                                e.room_id,
                                e.thread_id,
                                e.stream_ordering,
                                e.event_id,
                                n.actions_json or orjson.dumps(n.actions).decode(),
                                n.highlight,
                                e.ts,
                            )
                        )
                rows.sort(key=lambda r: (r[0], r[3]))
                await conn.executemany(
                    "INSERT INTO push_notifications (user_id, room_id, thread_id, "
                    "stream_ordering, event_id, actions, highlight, ts) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                    "ON CONFLICT (user_id, stream_ordering) DO NOTHING",
                    rows,
                )
        except BaseException:
            self._ops = ops + self._ops  # keep them for the next attempt
            raise
        self._by_user = {}
        for e in self._ops:  # changes recorded while the transaction ran
            self._index(e)

    async def close(self) -> None:
        """Write what is pending (shutdown)."""
        if self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)
        await self.flush()

    # ---- receipts -------------------------------------------------------------------

    async def mark_read(
        self, user_id: str, room_id: str, stream_ordering: int, thread_id: str | None = None
    ) -> bool:
        """The user read ``room_id`` (only ``thread_id`` when given) up to
        ``stream_ordering``; False when that moved nothing."""
        async with self._flush_lock:
            await self._flush_locked()
            async with self.db.transaction() as conn:
                return await self._mark_read_in(conn, user_id, room_id, stream_ordering, thread_id)

    @staticmethod
    async def _mark_read_in(
        conn: Connection, user_id: str, room_id: str, stream_ordering: int, thread_id: str | None
    ) -> bool:
        rows = await conn.fetchall(
            "SELECT thread_id, read_ordering FROM push_counts WHERE user_id = $1 AND room_id = $2",
            user_id,
            room_id,
        )
        known = {str(r[0]): int(r[1]) for r in rows}
        threads = [thread_id] if thread_id is not None else list(known) or [MAIN]
        moved = False
        for thread in threads:
            if known.get(thread, 0) >= stream_ordering:
                continue
            moved = True
            counted = await conn.fetchone(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN highlight THEN 1 ELSE 0 END), 0) "
                "FROM push_notifications WHERE user_id = $1 AND room_id = $2 "
                "AND thread_id = $3 AND stream_ordering > $4",
                user_id,
                room_id,
                thread,
                stream_ordering,
            )
            notif, highlight = (0, 0) if counted is None else (int(counted[0]), int(counted[1]))
            await conn.execute(
                "INSERT INTO push_counts (user_id, room_id, thread_id, notif_count, "
                "highlight_count, read_ordering) VALUES ($1, $2, $3, $4, $5, $6) "
                "ON CONFLICT (user_id, room_id, thread_id) "
                "DO UPDATE SET notif_count = EXCLUDED.notif_count, "
                "highlight_count = EXCLUDED.highlight_count, "
                "read_ordering = EXCLUDED.read_ordering",
                user_id,
                room_id,
                thread,
                notif,
                highlight,
                stream_ordering,
            )
        return moved

    # ---- reading --------------------------------------------------------------------

    async def thread_counts(self, user_id: str) -> dict[str, dict[str, Counts]]:
        """``{room_id: {thread_id: counts}}`` of the user's rooms with notifications or
        a read position, pending changes included."""
        async with self._flush_lock:
            rows = await self.db.fetchall(
                "SELECT room_id, thread_id, notif_count, highlight_count, read_ordering "
                "FROM push_counts WHERE user_id = $1",
                user_id,
            )
            state: dict[tuple[str, str], list[int]] = {
                (str(r[0]), str(r[1])): [int(r[2]), int(r[3]), int(r[4])] for r in rows
            }
            for room_id, thread, ordering, highlight, is_reset in self._by_user.get(user_id, ()):
                current = state.setdefault((room_id, thread), [0, 0, 0])
                if ordering <= current[2]:
                    continue
                if is_reset:
                    current[:] = [0, 0, ordering]
                else:
                    current[0] += 1
                    current[1] += int(highlight)
        out: dict[str, dict[str, Counts]] = {}
        for (room_id, thread), v in state.items():
            out.setdefault(room_id, {})[thread] = (v[0], v[1])
        return out

    async def counts(self, user_id: str) -> dict[str, Counts]:
        """``{room_id: counts}`` summed over the threads of each room."""
        out: dict[str, Counts] = {}
        for room_id, threads in (await self.thread_counts(user_id)).items():
            out[room_id] = (
                sum(c[0] for c in threads.values()),
                sum(c[1] for c in threads.values()),
            )
        return out

    async def unread_total(self, user_id: str) -> int:
        """The user's unread notifications across rooms (the gateway's ``unread``)."""
        return sum(n for n, _ in (await self.counts(user_id)).values())

    async def list(
        self, user_id: str, before: int | None, limit: int, only_highlight: bool
    ) -> list[NotificationRow]:
        """The user's notifications, newest first, older than ``before`` (a stream
        ordering) when given."""
        await self.flush()
        rows = await self.db.fetchall(
            "SELECT n.room_id, n.event_id, n.stream_ordering, n.actions, n.highlight, n.ts, "
            "COALESCE(c.read_ordering, 0) FROM push_notifications n LEFT JOIN push_counts c "
            "ON c.user_id = n.user_id AND c.room_id = n.room_id AND c.thread_id = n.thread_id "
            "WHERE n.user_id = $1 AND n.stream_ordering < $2 "
            + ("AND n.highlight " if only_highlight else "")
            + "ORDER BY n.stream_ordering DESC LIMIT $3",
            user_id,
            before if before is not None else 2**62,
            limit,
        )
        return [
            NotificationRow(
                room_id=str(r[0]),
                event_id=str(r[1]),
                stream_ordering=int(r[2]),
                actions=list(orjson.loads(r[3])),
                highlight=bool(r[4]),
                ts=int(r[5]),
                read=int(r[2]) <= int(r[6]),
            )
            for r in rows
        ]

    async def delete_user(self, user_id: str) -> None:
        """Forget a user's notifications and counts."""
        await self.flush()
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM push_notifications WHERE user_id = $1", user_id)
            await conn.execute("DELETE FROM push_counts WHERE user_id = $1", user_id)

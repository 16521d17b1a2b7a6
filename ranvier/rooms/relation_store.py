"""The relations index: which events relate to which, per room (tables of migration 0500).

Theory of operation
-------------------
Spec: client-server-api "Forming relationships between events". A child event names
its parent in ``content["m.relates_to"]`` (``rel_type``, ``event_id`` and, for
annotations, ``key``). :meth:`RelationStore.index` is an
:data:`~ranvier.rooms.event_store.PersistHook`: it runs inside the transaction that
persists the child, so the index is never behind the events table. It writes one
``event_relations`` row per child (the parent may not be known yet: it is referred to
by id, and queries match parent and child room) and, for ``m.thread`` children, bumps
the root's ``room_threads`` row (latest child, count), which orders ``GET /threads``
and answers the ``m.thread`` aggregation in one indexed read.

When a child is redacted the relationship is broken (client-server-api "Aggregations
of child events"): :meth:`RelationStore.unindex`, called by the redaction hook in the
same transaction, deletes its row and recomputes its thread's summary.

Reads take a room and a batch of parent ids and answer with plain rows, so the
client-format code can bundle aggregations for a whole timeline in a few queries.
Positions are stream orderings (the events stream); ``stream <= before`` and
``stream > after`` bound a page.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ranvier.db import Connection, Database
from ranvier.rooms.event_store import NewEvent, StoredEvent

THREAD = "m.thread"
REPLACE = "m.replace"
REFERENCE = "m.reference"
ANNOTATION = "m.annotation"

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Relation:
    """A well-formed ``m.relates_to`` with a ``rel_type``."""

    rel_type: str
    parent_id: str
    key: str | None = None
    """``key`` of an ``m.annotation`` (None otherwise, or when missing)."""


def parse_relation(content: Mapping[str, Any]) -> Relation | None:
    """The relation of an event's ``content``, or None when ``m.relates_to`` is absent,
    not an object, or lacks a string ``rel_type`` or an ``event_id`` (relationships
    "which don't match the schema ... are simply ignored"; rich replies, which have
    only ``m.in_reply_to``, have no ``rel_type`` and are not relations here).

    A relation whose ``rel_type``, ``event_id`` or ``key`` holds U+0000 is ignored too:
    no event id contains it (appendices "Event IDs"), and PostgreSQL's ``TEXT`` cannot
    store it, so both databases treat such an event alike, as having no relation."""
    rel = content.get("m.relates_to")
    if not isinstance(rel, dict):
        return None
    rel_type = rel.get("rel_type")
    parent = rel.get("event_id")
    if not isinstance(rel_type, str) or not isinstance(parent, str) or not parent.startswith("$"):
        return None
    key = rel.get("key") if rel_type == ANNOTATION else None
    if "\x00" in rel_type or "\x00" in parent or (isinstance(key, str) and "\x00" in key):
        return None
    return Relation(rel_type, parent, key if isinstance(key, str) else None)


@dataclass(frozen=True, slots=True)
class RelationRow:
    """One indexed child."""

    parent_id: str
    rel_type: str
    event_nid: int
    event_id: str
    event_type: str
    sender: str
    origin_server_ts: int
    stream_ordering: int


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    """A thread root's latest child and number of children."""

    latest_nid: int
    count: int


def _marks(start: int, n: int) -> str:
    return ", ".join(f"${start + i}" for i in range(n))


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


_ROW_COLUMNS = (
    "parent_id, rel_type, event_nid, event_id, event_type, sender, origin_server_ts,"
    " stream_ordering"
)


def _row(r: Sequence[Any]) -> RelationRow:
    return RelationRow(
        str(r[0]), str(r[1]), int(r[2]), str(r[3]), str(r[4]), str(r[5]), int(r[6]), int(r[7])
    )


class RelationStore:
    """Writes (inside persist transactions) and reads of the relations index."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- writing (inside the persist transaction) ------------------------------------

    async def index(self, conn: Connection, new: NewEvent, stored: StoredEvent) -> list[int]:
        """The persist hook: index ``stored``'s relation, if it has one."""
        ev = stored.event
        rel = parse_relation(ev.content)
        if rel is None or "\x00" in ev.type:  # a type PostgreSQL cannot store: no index
            return []
        await conn.execute(
            "INSERT INTO event_relations (event_nid, event_id, room_nid, parent_id, rel_type,"
            " event_type, sender, aggregation_key, origin_server_ts, stream_ordering)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            stored.nid,
            ev.event_id,
            stored.room_nid,
            rel.parent_id,
            rel.rel_type,
            ev.type,
            ev.sender,
            rel.key,
            ev.origin_server_ts,
            stored.stream_ordering,
        )
        if rel.rel_type == THREAD:
            await conn.execute(
                "INSERT INTO room_threads (room_nid, root_id, latest_nid, latest_stream,"
                " thread_count) VALUES ($1, $2, $3, $4, 1)"
                " ON CONFLICT (room_nid, root_id) DO UPDATE SET"
                " latest_nid = excluded.latest_nid, latest_stream = excluded.latest_stream,"
                " thread_count = room_threads.thread_count + 1",
                stored.room_nid,
                rel.parent_id,
                stored.nid,
                stored.stream_ordering,
            )
        return []

    async def unindex(self, conn: Connection, event_nid: int) -> None:
        """Forget the relation of ``event_nid`` (redacted), fixing its thread's summary."""
        row = await conn.fetchone(
            "DELETE FROM event_relations WHERE event_nid = $1 RETURNING room_nid, parent_id,"
            " rel_type",
            event_nid,
        )
        if row is None or row[2] != THREAD:
            return
        room_nid, root = int(row[0]), str(row[1])
        rest = await conn.fetchall(
            "SELECT event_nid, stream_ordering FROM event_relations WHERE parent_id = $1"
            " AND room_nid = $2 AND rel_type = $3 ORDER BY stream_ordering DESC",
            root,
            room_nid,
            THREAD,
        )
        if not rest:
            await conn.execute(
                "DELETE FROM room_threads WHERE room_nid = $1 AND root_id = $2", room_nid, root
            )
            return
        await conn.execute(
            "UPDATE room_threads SET latest_nid = $1, latest_stream = $2, thread_count = $3"
            " WHERE room_nid = $4 AND root_id = $5",
            int(rest[0][0]),
            int(rest[0][1]),
            len(rest),
            room_nid,
            root,
        )

    # ---- reading ----------------------------------------------------------------------

    async def children(
        self,
        room_nid: int,
        parent_id: str,
        *,
        rel_type: str | None = None,
        event_type: str | None = None,
        before: int | None = None,
        after: int | None = None,
        forwards: bool = False,
        limit: int,
        depth: int = 1,
    ) -> list[tuple[int, int]]:
        """``(event_nid, stream_ordering)`` of the children of ``parent_id`` in the room,
        up to ``depth`` relations away (only through children that match the filters),
        with ``after < stream <= before``, newest first (oldest first if ``forwards``),
        at most ``limit``."""
        args: list[Any] = [parent_id, room_nid, depth]
        filters = ""
        if rel_type is not None:
            args.append(rel_type)
            filters += f" AND r.rel_type = ${len(args)}"
        if event_type is not None:
            args.append(event_type)
            filters += f" AND r.event_type = ${len(args)}"
        bounds = ""
        if before is not None:
            args.append(before)
            bounds += f" AND stream_ordering <= ${len(args)}"
        if after is not None:
            args.append(after)
            bounds += f" AND stream_ordering > ${len(args)}"
        args.append(limit)
        order = "ASC" if forwards else "DESC"
        rows = await self.db.fetchall(
            "WITH RECURSIVE rel (event_nid, event_id, stream_ordering, depth) AS ("
            " SELECT r.event_nid, r.event_id, r.stream_ordering, 1 FROM event_relations r"
            f" WHERE r.parent_id = $1 AND r.room_nid = $2{filters}"
            " UNION"
            " SELECT r.event_nid, r.event_id, r.stream_ordering, rel.depth + 1"
            " FROM event_relations r JOIN rel ON r.parent_id = rel.event_id"
            f" WHERE r.room_nid = $2 AND rel.depth < $3{filters})"
            " SELECT DISTINCT event_nid, stream_ordering FROM rel"
            f" WHERE 1 = 1{bounds} ORDER BY stream_ordering {order} LIMIT ${len(args)}",
            *args,
        )
        return [(int(r[0]), int(r[1])) for r in rows]

    async def rows_for_parents(
        self, room_nid: int, parent_ids: Sequence[str], rel_types: Collection[str]
    ) -> list[RelationRow]:
        """Every indexed child of these parents with one of ``rel_types``, oldest first."""
        out: list[RelationRow] = []
        types = sorted(rel_types)
        for chunk in _chunks(parent_ids):
            rows = await self.db.fetchall(
                f"SELECT {_ROW_COLUMNS} FROM event_relations WHERE room_nid = $1"
                f" AND parent_id IN ({_marks(2, len(chunk))})"
                f" AND rel_type IN ({_marks(2 + len(chunk), len(types))})"
                " ORDER BY stream_ordering",
                room_nid,
                *chunk,
                *types,
            )
            out.extend(_row(r) for r in rows)
        return out

    async def thread_summaries(
        self, room_nid: int, roots: Sequence[str], ignored: Collection[str] = ()
    ) -> dict[str, ThreadSummary]:
        """``{root: summary}`` of the roots that have threads. Children sent by
        ``ignored`` users are left out (the thread table then cannot answer: the
        summary is computed from the children)."""
        out: dict[str, ThreadSummary] = {}
        if not ignored:
            for chunk in _chunks(roots):
                rows = await self.db.fetchall(
                    "SELECT root_id, latest_nid, thread_count FROM room_threads"
                    f" WHERE room_nid = $1 AND root_id IN ({_marks(2, len(chunk))})",
                    room_nid,
                    *chunk,
                )
                for r in rows:
                    out[str(r[0])] = ThreadSummary(int(r[1]), int(r[2]))
            return out
        for row in await self.rows_for_parents(room_nid, roots, (THREAD,)):
            if row.sender in ignored:
                continue
            prev = out.get(row.parent_id)
            # rows come oldest first: the last one seen is the latest
            out[row.parent_id] = ThreadSummary(row.event_nid, 1 if prev is None else prev.count + 1)
        return out

    async def participated(self, room_nid: int, roots: Sequence[str], user_id: str) -> set[str]:
        """The roots among ``roots`` with an ``m.thread`` child sent by ``user_id``."""
        out: set[str] = set()
        for chunk in _chunks(roots):
            rows = await self.db.fetchall(
                "SELECT DISTINCT parent_id FROM event_relations WHERE room_nid = $1"
                f" AND sender = $2 AND rel_type = $3 AND parent_id IN ({_marks(4, len(chunk))})",
                room_nid,
                user_id,
                THREAD,
                *chunk,
            )
            out.update(str(r[0]) for r in rows)
        return out

    async def has_annotation(
        self, room_nid: int, parent_id: str, sender: str, event_type: str, key: str
    ) -> bool:
        """Whether ``sender`` already has an (unredacted) annotation of ``parent_id`` with
        this event type and key (event_annotations "Avoiding duplicate annotations")."""
        row = await self.db.fetchone(
            "SELECT 1 FROM event_relations WHERE parent_id = $1 AND sender = $2"
            " AND event_type = $3 AND aggregation_key = $4 AND room_nid = $5 AND rel_type = $6",
            parent_id,
            sender,
            event_type,
            key,
            room_nid,
            ANNOTATION,
        )
        return row is not None

    async def threads(
        self,
        room_nid: int,
        *,
        before: int | None,
        limit: int,
        participant: str | None = None,
    ) -> list[tuple[str, int]]:
        """``(root_id, latest_stream)`` of the room's threads whose latest child is at or
        before ``before``, latest first; with ``participant``, only threads that user
        started or replied in (threading "current_user_participated")."""
        args: list[Any] = [room_nid]
        where = ""
        if before is not None:
            args.append(before)
            where += f" AND t.latest_stream <= ${len(args)}"
        if participant is not None:
            args.append(participant)
            n = len(args)
            args.append(THREAD)
            where += (
                " AND (EXISTS (SELECT 1 FROM event_relations r WHERE r.parent_id = t.root_id"
                f" AND r.room_nid = t.room_nid AND r.sender = ${n} AND r.rel_type = ${n + 1})"
                " OR EXISTS (SELECT 1 FROM events e WHERE e.event_id = t.root_id"
                f" AND e.room_nid = t.room_nid AND e.sender = ${n}))"
            )
        args.append(limit)
        rows = await self.db.fetchall(
            f"SELECT t.root_id, t.latest_stream FROM room_threads t WHERE t.room_nid = $1{where}"
            f" ORDER BY t.latest_stream DESC LIMIT ${len(args)}",
            *args,
        )
        return [(str(r[0]), int(r[1])) for r in rows]

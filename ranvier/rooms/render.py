"""Stored events as clients get them: redactions applied, bundled aggregations added.

Theory of operation
-------------------
:meth:`ClientEventRenderer.render` is THE way to turn stored events into
``ClientEvent`` JSON for a user (``/event``, ``/messages``, ``/context``,
``/relations``, ``/threads``, ``/sync``). For a batch of events it makes a fixed
number of queries, whatever the batch size:

1. the redactions of redacted events (one batched event read); a redacted event is
   already in its redacted form (the event store reads it so) and gets its redaction
   as ``unsigned.redacted_because`` (client-server-api "Redactions");
2. the requesting device's transaction ids of its own events (one query);
3. bundled aggregations (client-server-api "Aggregations of child events") for the
   non-state events: one query for ``m.replace`` and ``m.reference`` children, one
   for ``m.thread`` summaries, one for thread participation, one batched read of the
   edits and latest thread events, and one nested render of the latest thread events
   (whose own edits are bundled: threading "child events of the latest_event should
   themselves be aggregated").

Aggregations, under ``unsigned["m.relations"]``:

* ``m.thread`` (threading "Server-side aggregation of m.thread relationships"):
  ``latest_event`` (the latest child, rendered the same way), ``count``, and
  ``current_user_participated`` (the user sent the root or a child);
* ``m.replace`` (event_replacements "Server-side aggregation of m.replace
  relationships"): the most recent *valid* replacement (same sender and type as the
  original, the original not a state event nor itself an edit, ``m.new_content`` an
  object), by ``origin_server_ts`` then the largest event id; never for a redacted
  original;
* ``m.reference`` (reference_relations): ``{"chunk": [{"event_id": ...}]}``.

``m.annotation`` is not aggregated (event_annotations). Children sent by ``ignored``
users are left out of every aggregation. State events get none (the spec's warning
in "Aggregations of child events").
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from ranvier.core.events import JsonDict
from ranvier.rooms.client_format import client_event
from ranvier.rooms.event_store import StoredEvent
from ranvier.rooms.relation_store import (
    REFERENCE,
    REPLACE,
    THREAD,
    RelationRow,
    parse_relation,
)
from ranvier.rooms.storage import RoomStorage

_MAX_DEPTH = 2
"""Thread roots bundle their latest event, which bundles its own edits: no deeper."""


class ClientEventRenderer:
    """Renders batches of stored events for one user (see the module docstring)."""

    def __init__(self, storage: RoomStorage) -> None:
        self.storage = storage
        self.events = storage.events
        self.relations = storage.relations

    async def render(
        self,
        events: Sequence[StoredEvent],
        user_id: str | None = None,
        *,
        device_id: str | None = None,
        bundle: bool = True,
        include_room_id: bool = True,
        now_ms: int | None = None,
        ignored: Collection[str] = (),
    ) -> list[JsonDict]:
        """The client form of ``events``, in the same order.

        ``user_id``/``device_id`` are the requester (for ``transaction_id`` and
        ``current_user_participated``); ``bundle=False`` skips aggregations (e.g. a
        ``/sync`` timeline that is not ``limited``); ``ignored`` are the requester's
        ignored users.
        """
        return await self._render(
            events, user_id, device_id, bundle, include_room_id, now_ms, ignored, 0
        )

    async def render_one(
        self, event: StoredEvent, user_id: str | None = None, *, device_id: str | None = None
    ) -> JsonDict:
        """:meth:`render` for one event."""
        return (await self.render([event], user_id, device_id=device_id))[0]

    async def _render(
        self,
        events: Sequence[StoredEvent],
        user_id: str | None,
        device_id: str | None,
        bundle: bool,
        include_room_id: bool,
        now_ms: int | None,
        ignored: Collection[str],
        depth: int,
    ) -> list[JsonDict]:
        if not events:
            return []
        redaction_nids = {s.redacted_by for s in events if s.redacted_by is not None}
        redactions = await self.events.get_by_nids(redaction_nids) if redaction_nids else {}
        txns: dict[int, str] = {}
        if user_id is not None and device_id is not None:
            own = [s.nid for s in events if s.event.sender == user_id]
            if own:
                txns = await self.events.txn_ids_of(own, user_id, device_id)
        bundles: dict[str, JsonDict] = {}
        if bundle and depth < _MAX_DEPTH:
            bundles = await self.aggregations(
                events, user_id, device_id=device_id, ignored=ignored, _depth=depth, now_ms=now_ms
            )
        out: list[JsonDict] = []
        for stored in events:
            because = None
            if stored.redacted_by is not None:
                redaction = redactions.get(stored.redacted_by)
                if redaction is not None:
                    because = client_event(
                        redaction.event, now_ms=now_ms, include_room_id=include_room_id
                    )
            extra = None
            relations = bundles.get(stored.event.event_id)
            if relations:
                extra = {"m.relations": relations}
            out.append(
                client_event(
                    stored.event,
                    now_ms=now_ms,
                    transaction_id=txns.get(stored.nid),
                    include_room_id=include_room_id,
                    extra_unsigned=extra,
                    redacted_because=because,
                )
            )
        return out

    async def aggregations(
        self,
        events: Sequence[StoredEvent],
        user_id: str | None,
        *,
        device_id: str | None = None,
        ignored: Collection[str] = (),
        now_ms: int | None = None,
        _depth: int = 0,
    ) -> dict[str, JsonDict]:
        """``{event_id: bundled aggregations}`` (the value of ``unsigned["m.relations"]``)
        of those ``events`` that have any, for renderers of their own (e.g. ``/sync``
        with ``event_fields`` or the federation format) to merge into ``unsigned``."""
        depth = _depth
        by_room: dict[int, list[StoredEvent]] = {}
        for stored in events:
            if not stored.event.is_state:
                by_room.setdefault(stored.room_nid, []).append(stored)
        out: dict[str, JsonDict] = {}
        for room_nid, parents in by_room.items():
            await self._room_bundles(
                room_nid, parents, user_id, device_id, ignored, depth, now_ms, out
            )
        return out

    async def _room_bundles(
        self,
        room_nid: int,
        parents: list[StoredEvent],
        user_id: str | None,
        device_id: str | None,
        ignored: Collection[str],
        depth: int,
        now_ms: int | None,
        out: dict[str, JsonDict],
    ) -> None:
        ids = list(dict.fromkeys(p.event.event_id for p in parents))
        by_id = {p.event.event_id: p for p in parents}
        rows = await self.relations.rows_for_parents(room_nid, ids, (REPLACE, REFERENCE))
        summaries = await self.relations.thread_summaries(room_nid, ids, ignored)
        participated: set[str] = set()
        if summaries and user_id is not None:
            participated = await self.relations.participated(room_nid, list(summaries), user_id)

        edits: dict[str, list[RelationRow]] = {}
        for row in rows:
            if row.sender in ignored:
                continue
            if row.rel_type == REFERENCE:
                ref = _relations(out, row.parent_id).setdefault(REFERENCE, {"chunk": []})
                ref["chunk"].append({"event_id": row.event_id})
            elif _may_replace(by_id[row.parent_id], row):
                edits.setdefault(row.parent_id, []).append(row)

        wanted = [r.event_nid for rs in edits.values() for r in rs]
        wanted += [s.latest_nid for s in summaries.values()]
        loaded = await self.events.get_by_nids(wanted) if wanted else {}

        for parent_id, candidates in edits.items():
            valid = [
                r
                for r in candidates
                if r.event_nid in loaded
                and not loaded[r.event_nid].event.is_state
                and isinstance(loaded[r.event_nid].event.content.get("m.new_content"), dict)
            ]
            if valid:
                best = max(valid, key=lambda r: (r.origin_server_ts, r.event_id))
                _relations(out, parent_id)[REPLACE] = client_event(
                    loaded[best.event_nid].event, now_ms=now_ms
                )

        latest = [loaded[s.latest_nid] for s in summaries.values() if s.latest_nid in loaded]
        rendered = await self._render(
            latest, user_id, device_id, True, True, now_ms, ignored, depth + 1
        )
        latest_json = {s.nid: j for s, j in zip(latest, rendered, strict=True)}
        for root, summary in summaries.items():
            latest_event = latest_json.get(summary.latest_nid)
            if latest_event is None:
                continue
            root_sender = by_id[root].event.sender
            _relations(out, root)[THREAD] = {
                "latest_event": latest_event,
                "count": summary.count,
                "current_user_participated": user_id is not None
                and (root_sender == user_id or root in participated),
            }


def _relations(out: dict[str, JsonDict], event_id: str) -> dict[str, Any]:
    return out.setdefault(event_id, {})


def _may_replace(original: StoredEvent, edit: RelationRow) -> bool:
    """The checks of event_replacements "Validity of replacement events" that need only
    the index row and the original (``m.new_content`` is checked on the edit itself)."""
    ev = original.event
    if original.redacted_by is not None or ev.is_state:
        return False
    if edit.sender != ev.sender or edit.event_type != ev.type:
        return False
    rel = parse_relation(ev.content)
    return rel is None or rel.rel_type != REPLACE

"""Redactions: who may send them, and applying them to their target when persisted.

Theory of operation
-------------------
Sending (client-server-api "Redactions", redaction.yaml): ``PUT /redact`` and, since
v1.18, ``PUT /send/m.room.redaction`` both build an ``m.room.redaction`` through the
room pipeline. :func:`split_redacts` puts the target where the room version wants it
(top-level ``redacts`` before v11, ``content.redacts`` from v11: rooms/v11 "Moving the
redacts property"). :func:`redaction_guard` runs in the room's queue before the event
is built: a user may redact their own events with the power to send
``m.room.redaction`` (the auth rules check that), and others' events only with at
least the room's *redact* level (else 403 ``M_FORBIDDEN``); the target, when known,
must be in the same room (400 ``M_INVALID_PARAM``). An unknown target is allowed (it
may arrive later over federation), as the room versions' rules allow. "Server
administrators may redact events sent by users on their server": with an admin check
set on :class:`RedactionPolicy`, a server admin who may send redactions in the room
may redact any event of a user of this server.

Applying (rooms fragment v3-handling-redactions): :class:`RedactionApplier` is a
persist hook, so the redaction and its effect commit together. Each redaction is
recorded in ``event_redactions``. When both the redaction and its target are stored,
are in the same room, and the redaction is allowed at serve time (v1-v2: always, the
auth rules decided; v3+: the senders share a server, or the redaction's sender had
the redact level in the state before the redaction:
:func:`ranvier.core.auth.redaction_allowed_at_serve_time`), the target's
``redacted_by`` is set (the first applied redaction wins) and its relation is
removed from the index (a redacted child breaks its relationship). This happens when
the redaction is persisted, or -- for a target that arrives later -- when the target
is. From then on the event store reads the target redacted, so the room state uses
its redacted content ("Redacted events can still affect the state of the room ...
as though their properties were simply not specified") and clients get the
redacted form with ``unsigned.redacted_because``
(:class:`ranvier.rooms.render.ClientEventRenderer`).

Showing (the same fragment: redactions "should not be sent to clients until both the
redaction event and the event the redaction affects have been received, and can be
validated ... If the server would apply a redaction, the redaction event is also sent
to clients"): :func:`redaction_withheld` says whether a redaction is kept from
clients -- its target unknown (so far), rejected, in another room, or the room's
create event, or (v3+) a redaction the rules above would not apply. Synapse
withholds the same ones.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from ranvier.core.auth import (
    get_named_power_level,
    get_user_power_level,
    redaction_allowed_at_serve_time,
)
from ranvier.core.events import Event
from ranvier.core.room_versions import RoomVersion
from ranvier.db import Connection
from ranvier.http.types import MatrixError
from ranvier.rooms.event_store import NewEvent, RoomInfo, StoredEvent
from ranvier.rooms.relation_store import RelationStore
from ranvier.rooms.state_store import Snapshot

if TYPE_CHECKING:
    from ranvier.rooms.pipeline import Guard, LocalEvent, RoomContext
    from ranvier.rooms.storage import RoomStorage

REDACTION = "m.room.redaction"
_AUTH_KEYS = (("m.room.create", ""), ("m.room.power_levels", ""))


def split_redacts(
    room_version: RoomVersion, event_type: str, content: Mapping[str, Any]
) -> tuple[Mapping[str, Any], str | None]:
    """``(content, redacts)`` of a redaction a client asked to send: before v11 the
    target leaves ``content`` for the top-level ``redacts``; from v11 it stays in
    ``content``. Other event types are returned unchanged with None."""
    if event_type != REDACTION:
        return content, None
    redacts = content.get("redacts")
    if not isinstance(redacts, str):
        return content, None
    if room_version.updated_redaction_rules:
        return content, redacts
    return {k: v for k, v in content.items() if k != "redacts"}, redacts


AdminCheck = Callable[[str], Awaitable[bool]]
"""``await is_admin(user_id)`` -> whether the user is an admin of this server."""


class RedactionPolicy:
    """Who may redact what; :meth:`check` is a ``RoomService.send_checks`` entry."""

    def __init__(self, is_admin: AdminCheck | None = None) -> None:
        self.is_admin = is_admin
        """Set by the server to let its admins redact events of local users."""

    def check(self, storage: RoomStorage, room: RoomInfo, local: LocalEvent) -> Guard | None:
        """The pipeline guard of a local redaction, or None for other events."""
        return redaction_guard(storage, room, local, self.is_admin)


def redaction_guard(
    storage: RoomStorage, room: RoomInfo, local: LocalEvent, is_admin: AdminCheck | None = None
) -> Guard | None:
    """The pipeline guard of a local redaction (see the module docstring), or None for
    other events."""
    target_id = local.redacts
    if local.event_type != REDACTION or target_id is None:
        return None

    async def guard(ctx: RoomContext) -> str | None:
        target = await storage.events.get_by_id(target_id)
        if target is None:
            return None
        if target.room_nid != room.nid:
            raise MatrixError(400, "M_INVALID_PARAM", "Cannot redact an event of another room")
        if target.event.sender == local.sender:
            return None
        state = {}
        for key in _AUTH_KEYS:
            ev = await ctx.get(*key)
            if ev is not None:
                state[key] = ev
        if get_user_power_level(local.sender, state) >= get_named_power_level("redact", state):
            return None
        if (
            is_admin is not None
            and _same_server(target.event, local.sender)
            and await is_admin(local.sender)
        ):
            return None
        raise MatrixError(
            403, "M_FORBIDDEN", "You don't have permission to redact events of other users"
        )

    return guard


class RedactionApplier:
    """The persist hook that records redactions and applies them (module docstring)."""

    def __init__(self, storage: RoomStorage, relations: RelationStore) -> None:
        self.storage = storage
        self.relations = relations

    async def __call__(self, conn: Connection, new: NewEvent, stored: StoredEvent) -> list[int]:
        """Record ``stored`` if it is a redaction and apply what can be applied; return
        the NIDs of the events redacted now."""
        ev = stored.event
        changed: list[int] = []
        # A target id holding U+0000 names no event (and PostgreSQL cannot store it).
        if ev.type == REDACTION and ev.redacts is not None and "\x00" not in ev.redacts:
            await conn.execute(
                "INSERT INTO event_redactions (redaction_nid, room_nid, target_id)"
                " VALUES ($1, $2, $3)",
                stored.nid,
                stored.room_nid,
                ev.redacts,
            )
            row = await conn.fetchone(
                "SELECT e.event_nid, e.json, e.redacted_by FROM events e"
                " WHERE e.event_id = $1 AND e.room_nid = $2",
                ev.redacts,
                stored.room_nid,
            )
            if row is not None and row[2] is None:
                target = Event(orjson.loads(str(row[1])), ev.room_version, ev.redacts)
                if await self._allowed(ev, new.state_before, target):
                    await self._apply(conn, int(row[0]), stored.nid)
                    changed.append(int(row[0]))
        # A target persisted after its redaction (federation): apply the redaction now.
        rows = await conn.fetchall(
            "SELECT redaction_nid FROM event_redactions WHERE target_id = $1 AND room_nid = $2"
            " ORDER BY redaction_nid",
            ev.event_id,
            stored.room_nid,
        )
        if rows:
            found = await self.storage.events.get_by_nids(int(r[0]) for r in rows)
            for r in rows:
                redaction = found.get(int(r[0]))
                if redaction is None or redaction.rejected:
                    continue
                before = await self.storage.snapshot(redaction.state_before_nid)
                if await self._allowed(redaction.event, before, ev):
                    await self._apply(conn, stored.nid, redaction.nid)
                    changed.append(stored.nid)
                    break
        return changed

    async def _allowed(self, redaction: Event, state_before: Snapshot, target: Event) -> bool:
        return await _applies(self.storage, redaction, state_before, target)

    async def _apply(self, conn: Connection, target_nid: int, redaction_nid: int) -> None:
        await conn.execute(
            "UPDATE events SET redacted_by = $1 WHERE event_nid = $2 AND redacted_by IS NULL",
            redaction_nid,
            target_nid,
        )
        await self.relations.unindex(conn, target_nid)


async def _applies(
    storage: RoomStorage, redaction: Event, state_before: Snapshot, target: Event
) -> bool:
    """Whether ``redaction`` may apply to ``target`` (same room checked by the caller)."""
    if redaction.room_version.event_id_in_event or _same_server(target, redaction.sender):
        return True
    state = await storage.state_events(state_before, _AUTH_KEYS)
    return redaction_allowed_at_serve_time(redaction, target, state)


async def redaction_withheld(storage: RoomStorage, stored: StoredEvent) -> bool:
    """Whether ``stored``, a redaction, is kept from clients (module docstring, "Showing");
    False for any other event."""
    ev = stored.event
    if ev.type != REDACTION:
        return False
    target_id = ev.redacts
    if target_id is None and stored.redacted_by is not None:
        # Itself redacted (a redaction redacted by another, or by itself), and read
        # without ``redacts`` before v11: the target as it was recorded.
        row = await storage.db.fetchone(
            "SELECT target_id FROM event_redactions WHERE redaction_nid = $1", stored.nid
        )
        target_id = None if row is None else str(row[0])
    if target_id is None:
        return True
    target = await storage.events.get_by_id(target_id)
    if (
        target is None
        or target.rejected
        or target.event.room_id != ev.room_id
        or (target.event.type == "m.room.create" and target.event.state_key == "")
    ):
        return True
    if target.redacted_by == stored.nid:
        return False
    return not await _applies(
        storage, ev, await storage.snapshot(stored.state_before_nid), target.event
    )


def _same_server(event: Event, user_id: str) -> bool:
    return event.sender.partition(":")[2] == user_id.partition(":")[2]

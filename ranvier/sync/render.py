"""Events as ``/sync``, ``/messages`` and ``/context`` return them.

Spec: client-server-api "Room Events" (``ClientEvent``; in ``/sync`` the
``ClientEventWithoutRoomID`` form), "Transaction identifiers" (``unsigned.transaction_id``
only for the device that sent the event), "Redactions" (a redacted event is shown with
the room version's redaction algorithm applied, and ``unsigned.redacted_because``), and
"Filtering" (``event_format: federation`` returns the PDU as stored; ``event_fields``
keeps only the named properties). The client form itself is
:func:`ranvier.rooms.client_format.client_event`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ranvier.core.events import Event, JsonDict
from ranvier.core.redaction import redact
from ranvier.rooms.client_format import client_event
from ranvier.rooms.event_store import StoredEvent
from ranvier.sync.filters import SyncFilter
from ranvier.sync.store import SyncStore


class EventRenderer:
    """Renders stored events for one requesting device."""

    def __init__(
        self,
        store: SyncStore,
        user_id: str,
        device_id: str | None,
        sync_filter: SyncFilter | None = None,
        *,
        include_room_id: bool = True,
    ) -> None:
        self.store = store
        self.user_id = user_id
        self.device_id = device_id
        self.filter = sync_filter or SyncFilter()
        self.include_room_id = include_room_id

    async def render(self, events: Sequence[StoredEvent]) -> list[JsonDict]:
        """The events in order, each in the client (or federation) format."""
        if not events:
            return []
        now = int(time.time() * 1000)
        txns: dict[int, str] = {}
        if self.device_id is not None:
            own = [s.nid for s in events if s.event.sender == self.user_id]
            if own:
                txns = await self.store.transaction_ids(self.user_id, self.device_id, own)
        redactors = [s.redacted_by for s in events if s.redacted_by is not None]
        because: dict[int, StoredEvent] = {}
        if redactors:
            because = await self.store.events.get_by_nids(redactors)
        out: list[JsonDict] = []
        for stored in events:
            out.append(self._one(stored, now, txns.get(stored.nid), because))
        return out

    def _one(
        self,
        stored: StoredEvent,
        now: int,
        txn_id: str | None,
        because: dict[int, StoredEvent],
    ) -> JsonDict:
        event = stored.event
        extra: JsonDict = {}
        if stored.redacted_by is not None:
            event = Event(redact(event.pdu, event.room_version), event.room_version, event.event_id)
            redactor = because.get(stored.redacted_by)
            if redactor is not None:
                extra["redacted_because"] = client_event(
                    redactor.event, now_ms=now, include_room_id=self.include_room_id
                )
        if self.filter.event_format == "federation":
            rendered: JsonDict = dict(event.pdu)
            if extra:
                rendered["unsigned"] = {**event.unsigned, **extra}
        else:
            rendered = client_event(
                event,
                now_ms=now,
                transaction_id=txn_id,
                include_room_id=self.include_room_id,
                extra_unsigned=extra or None,
            )
        return self.filter.project(rendered)

    def render_state(self, events: Sequence[Event]) -> list[JsonDict]:
        """State events (no transaction ids), sorted by ``(type, state_key)``."""
        now = int(time.time() * 1000)
        out: list[JsonDict] = []
        for event in sorted(events, key=lambda e: (e.type, e.state_key or "")):
            if self.filter.event_format == "federation":
                rendered: JsonDict = dict(event.pdu)
            else:
                rendered = client_event(event, now_ms=now, include_room_id=self.include_room_id)
            out.append(self.filter.project(rendered))
        return out

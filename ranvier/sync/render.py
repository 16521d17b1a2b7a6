"""Events as ``/sync``, ``/messages`` and ``/context`` return them.

The client form -- redactions applied with ``unsigned.redacted_because``,
``unsigned.transaction_id`` for the sending device, bundled aggregations under
``unsigned["m.relations"]`` -- is made by the rooms component's
:class:`ranvier.rooms.render.ClientEventRenderer` (client-server-api "Room Events",
"Redactions", "Transaction identifiers", "Aggregations of child events"). In ``/sync``
events come without ``room_id`` (``ClientEventWithoutRoomID``). This module adds what
filters ask for (client-server-api "Filtering"): ``event_format: federation`` returns
each PDU as stored, with its ``event_id`` added (PDUs of room versions 3 and later carry
no id, and a client could not refer to the event without one) and bundled
aggregations merged into its ``unsigned``, and ``event_fields`` keeps only the named
properties.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from ranvier.core.events import JsonDict
from ranvier.rooms.event_store import StoredEvent
from ranvier.rooms.render import ClientEventRenderer
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
        ignored: Collection[str] = (),
    ) -> None:
        self.client = ClientEventRenderer(store.storage)
        self.user_id = user_id
        self.device_id = device_id
        self.filter = sync_filter or SyncFilter()
        self.include_room_id = include_room_id
        self.ignored = ignored

    async def render(self, events: Sequence[StoredEvent], *, bundle: bool = True) -> list[JsonDict]:
        """The events in order, each in the client (or federation) format; ``bundle``
        adds bundled aggregations to non-state events."""
        if not events:
            return []
        if self.filter.event_format == "federation":
            rendered = [{**s.event.pdu, "event_id": s.event.event_id} for s in events]
            if bundle:
                await self._bundle_into_pdus(events, rendered)
        else:
            rendered = await self.client.render(
                events,
                self.user_id,
                device_id=self.device_id,
                bundle=bundle,
                include_room_id=self.include_room_id,
                ignored=self.ignored,
            )
        return [self.filter.project(e) for e in rendered]

    async def _bundle_into_pdus(self, events: Sequence[StoredEvent], pdus: list[JsonDict]) -> None:
        """Bundled aggregations for the federation format: merged into each PDU's
        ``unsigned`` (client-server-api "Aggregations of child events")."""
        merged = await self.client.aggregations(
            events, self.user_id, device_id=self.device_id, ignored=self.ignored
        )
        for stored, pdu in zip(events, pdus, strict=True):
            relations = merged.get(stored.event.event_id)
            if relations:
                unsigned = pdu.get("unsigned")
                base = dict(unsigned) if isinstance(unsigned, dict) else {}
                pdu["unsigned"] = {**base, "m.relations": relations}

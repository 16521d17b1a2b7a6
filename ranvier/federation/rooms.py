"""Federation of room events, built once per server: the parts and how they connect.

:class:`FederationRooms` is what the composition root (:mod:`ranvier.server`) builds
when federation is enabled:

* :class:`~ranvier.rooms.remote.RemoteInput` -- received PDUs, checked in spec order,
  in the same per-room queues as local events; its network side is
  :class:`~.fetcher.FederationEventSource` and its signature check
  :func:`~.event_signatures.pdu_signature_checker` (the keyring);
* :class:`~.transactions.TransactionProcessor` with the :class:`~.transactions.EduRegistry`
  (``register_edu_handler``) -- ``PUT /send``;
* :class:`~.room_data.RoomData` -- ``/event``, ``/state``, ``/state_ids``,
  ``/event_auth``, ``/backfill``, ``/get_missing_events``;
* :class:`~.sender.FederationSender` -- the persisted per-destination queues (local
  events from the room bus; :meth:`queue_edu` for EDUs), woken by the inbound
  authenticator whenever a server contacts us;
* :class:`~.joins.JoinResident` and :class:`~.joins.RemoteJoiner` -- make_join and
  send_join, both directions.
"""

from __future__ import annotations

from collections.abc import Iterable

from ranvier.api.client.common import RouteDef
from ranvier.api.federation.events import FederationEventsApi
from ranvier.api.federation.joins import FederationJoinApi
from ranvier.api.federation.send import FederationSendApi
from ranvier.bus import Bus
from ranvier.config.schema import Config
from ranvier.core.events import JsonDict
from ranvier.db import Database
from ranvier.federation.event_signatures import pdu_signature_checker
from ranvier.federation.fetcher import FederationEventSource
from ranvier.federation.joins import JoinResident, RemoteJoiner
from ranvier.federation.room_data import RoomData
from ranvier.federation.sender import FederationSender
from ranvier.federation.service import Federation
from ranvier.federation.transactions import EduRegistry, TransactionProcessor
from ranvier.rooms.pipeline import RoomInput
from ranvier.rooms.remote import RemoteInput


class FederationRooms:
    """Room federation services of one server (see the module docstring)."""

    def __init__(
        self,
        config: Config,
        db: Database,
        federation: Federation,
        room_input: RoomInput,
        bus: Bus,
    ) -> None:
        name = config.server_name
        storage = room_input.storage
        self.bus = bus
        self.federation = federation
        self.source = FederationEventSource(federation.client)
        self.remote = RemoteInput(
            storage,
            bus,
            room_input.queues,
            name,
            pdu_signature_checker(federation.keyring),
            self.source,
        )
        self.data = RoomData(storage, name)
        self.edus = EduRegistry()
        self.transactions = TransactionProcessor(db, self.remote, self.data, self.edus)
        self.sender = FederationSender(
            db,
            federation.client,
            storage.events,
            name,
            max_retries=config.federation_api.send_max_retries,
        )
        federation.authenticator.listeners.append(self.sender.wake)
        self.resident = JoinResident(self.remote, self.data, name, room_input.signing_key)
        self.joiner = RemoteJoiner(
            self.remote, federation.client, bus, name, room_input.signing_key
        )

    def routes(self) -> list[RouteDef]:
        """The federation routes of room events."""
        auth = self.federation.authenticator
        return [
            *FederationSendApi(self.transactions, auth).routes(),
            *FederationEventsApi(self.data, auth).routes(),
            *FederationJoinApi(self.resident, auth).routes(),
        ]

    async def queue_edu(self, destinations: Iterable[str], edu: JsonDict) -> None:
        """Queue an EDU (``{"edu_type", "content"}``) for ``destinations``."""
        await self.sender.queue_edu(destinations, edu)

    async def start(self) -> None:
        """Start the outbound sender (resuming queues left in the database)."""
        await self.sender.start(self.bus)

    async def stop(self) -> None:
        """Stop the outbound sender (its queues stay in the database)."""
        await self.sender.stop()

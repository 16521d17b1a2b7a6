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
  send_join, both directions; the resident side also answers make_leave/send_leave and
  make_knock/send_knock;
* :class:`~.remote_membership.RemoteMembership` -- leaves and knocks of local users
  through resident servers; :class:`~.out_of_room.OutOfRoomMemberships` -- memberships
  in rooms this server is not in (invites, knocks, rejections);
* :class:`~.invites.InviteSender` (countersigning invites of remote users, called by the
  room input pipeline) and :class:`~.invites.InviteReceiver` (``PUT /v2/invite``);
  :class:`~.third_party.ThirdPartyExchange` (``/exchange_third_party_invite``);
* :class:`~.directory.DirectoryResident` and :class:`~.directory.DirectoryClient` --
  ``/query/directory``, ``/publicRooms``, ``/hierarchy``, served and asked;
* :class:`~.backfill.Backfiller` -- older history for ``/messages``.

:meth:`FederationRooms.connect` hands the client-facing services (membership, aliases,
directory, pagination) the hooks that reach other servers; the sender and the remote
membership calls apply the room's server ACL on the way out.
"""

from __future__ import annotations

from collections.abc import Iterable

from ranvier.api.client.common import RouteDef
from ranvier.api.federation.directory import FederationDirectoryApi
from ranvier.api.federation.events import FederationEventsApi
from ranvier.api.federation.joins import FederationJoinApi
from ranvier.api.federation.memberships import FederationMembershipApi
from ranvier.api.federation.send import FederationSendApi
from ranvier.bus import Bus
from ranvier.config.schema import Config
from ranvier.core.events import JsonDict
from ranvier.db import Database
from ranvier.federation.backfill import Backfiller
from ranvier.federation.directory import DirectoryClient, DirectoryResident
from ranvier.federation.event_signatures import pdu_signature_checker
from ranvier.federation.fetcher import FederationEventSource
from ranvier.federation.invites import InviteReceiver, InviteSender
from ranvier.federation.joins import JoinResident, RemoteJoiner
from ranvier.federation.out_of_room import OutOfRoomMemberships
from ranvier.federation.remote_membership import RemoteMembership
from ranvier.federation.room_data import RoomData
from ranvier.federation.sender import FederationSender
from ranvier.federation.service import Federation
from ranvier.federation.third_party import ThirdPartyExchange
from ranvier.federation.transactions import EduRegistry, TransactionProcessor
from ranvier.rooms.aliases import AliasService
from ranvier.rooms.directory import DirectoryService
from ranvier.rooms.membership import MembershipService
from ranvier.rooms.pipeline import RoomInput
from ranvier.rooms.remote import RemoteInput
from ranvier.rooms.summary import RoomSummaries
from ranvier.sync.pagination import PaginationService
from ranvier.users.erasure import ErasedUsers


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
        self.data.erased = ErasedUsers(db)
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
        self.sender.acl_allows = self.data.acl_allows
        self.memberships = OutOfRoomMemberships(storage, bus, room_input.queues)
        self.remote_membership = RemoteMembership(
            federation.client,
            name,
            room_input.signing_key,
            self.memberships,
            self.remote.verify,
            self._acl_allows_server,
        )
        self.invite_sender = InviteSender(federation.client, federation.keyring, self.data, name)
        self.invites = InviteReceiver(
            self.remote, self.data, self.memberships, name, room_input.signing_key
        )
        self.third_party = ThirdPartyExchange(room_input, self.remote, self.data)
        self.directory_client = DirectoryClient(federation.client, name)
        self.directory: DirectoryResident | None = None
        self.backfiller = Backfiller(self.remote, self.source, self.data)

    async def _acl_allows_server(self, room_id: str, server: str) -> bool:
        room = await self.data.events.get_room(room_id)
        return room is None or await self.data.acl_allows(room, server)

    def connect(
        self,
        membership: MembershipService,
        aliases: AliasService,
        directory: DirectoryService,
        summaries: RoomSummaries,
    ) -> None:
        """Give the client-facing room services their ways to other servers: joins,
        leaves and knocks of rooms this server is not in, remote invitees (countersigned
        by the pipeline), remote aliases and remote room directories; and serve this
        server's directory. Call before :meth:`routes`."""
        rooms = membership.rooms
        membership.remote_join = self.joiner.join
        membership.remote_leave = self.remote_membership.leave
        membership.remote_knock = self.remote_membership.knock
        rooms.remote_invites = True
        rooms.pipeline.countersign_invite = self.invite_sender.countersign
        rooms.aliases.remote = self.directory_client.resolve_alias
        directory.remote = self.directory_client.public_rooms
        self.directory = DirectoryResident(aliases, directory, summaries, self.data)

    def connect_pagination(self, pagination: PaginationService) -> None:
        """Let ``/messages`` backfill from other servers."""
        pagination.backfill = self.backfiller.backfill

    def routes(self) -> list[RouteDef]:
        """The federation routes of room events."""
        auth = self.federation.authenticator
        return [
            *FederationSendApi(self.transactions, auth).routes(),
            *FederationEventsApi(self.data, auth).routes(),
            *FederationJoinApi(self.resident, auth).routes(),
            *FederationMembershipApi(self.resident, self.invites, self.third_party, auth).routes(),
            *(FederationDirectoryApi(self.directory, auth).routes() if self.directory else []),
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

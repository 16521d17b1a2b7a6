"""How the composition root connects :class:`~ranvier.e2ee.E2ee` to the rest of the
server: the account service's device listeners, the sync notifier, and federation
(remote queries, device list EDUs in and out, send-to-device EDUs out).

Kept here so that :mod:`ranvier.server` stays a list of constructions: each function
takes what it connects as arguments.
"""

from __future__ import annotations

from ranvier.db.api import Database
from ranvier.e2ee import E2ee
from ranvier.e2ee.device_list_stream import viewer_of
from ranvier.e2ee.federation_out import DeviceListSender, ToDeviceSender
from ranvier.e2ee.remote import RemoteKeys
from ranvier.e2ee.tracking import RemoteListTracker
from ranvier.federation.client import FederationClient
from ranvier.federation.edus import FederationEdus
from ranvier.federation.edus.device_list_store import RemoteDeviceListStore
from ranvier.federation.edus.rooms import RoomMembers
from ranvier.federation.rooms import FederationRooms
from ranvier.rooms.outputs import ROOM_EVENTS
from ranvier.sync.notifier import Notifier
from ranvier.users.service import AccountService


def build_e2ee(db: Database, accounts: AccountService, client: FederationClient | None) -> E2ee:
    """The component, asking other servers through ``client`` (None: federation off),
    told of device changes by ``accounts``."""
    server_name = accounts.server_name
    remote_store = RemoteDeviceListStore(db)
    remote: RemoteKeys | None = None
    e2ee: E2ee

    async def is_tracked(user_id: str) -> bool:
        return await e2ee.stream.shares_room_with_server(user_id, server_name)

    async def remote_master_key(user_id: str) -> dict[str, object] | None:
        return await remote_store.cross_signing_key(user_id, "master")

    if client is not None:
        remote = RemoteKeys(client, remote_store, is_tracked)
    e2ee = E2ee(db, accounts.devices, accounts.is_local, remote, remote_master_key)
    accounts.device_listeners.append(e2ee.device_lists.on_device_change)
    return e2ee


def connect_notifier(e2ee: E2ee, notifier: Notifier) -> None:
    """Wake the syncs of the changed users and of the members of their rooms (a private
    change: only its viewer's)."""

    async def on_change(pairs: list[tuple[str, str]], position: int) -> None:
        users = {u for u, d in pairs if viewer_of(d) is None}
        viewers = {v for _, d in pairs if (v := viewer_of(d)) is not None}
        rooms: set[str] = set()
        for user_id in users:
            rooms.update(await e2ee.stream.joined_rooms(user_id))
        notifier.on_device_lists(position, rooms, users | viewers)

    e2ee.stream.listeners.append(on_change)


def connect_federation(
    e2ee: E2ee, rooms: FederationRooms, edus: FederationEdus
) -> DeviceListSender:
    """Record remote device list changes in the stream, mark remote lists stale when no
    room is shared any more, fetch tracked users' lists for key queries, and send local
    changes out."""

    async def remote_change(pairs: list[tuple[str, str]]) -> None:
        await e2ee.stream.record(pairs)

    edus.device_lists.listeners.append(remote_change)
    tracker = RemoteListTracker(e2ee.stream, edus.device_lists.store, rooms.remote.server_name)
    rooms.bus.subscribe(ROOM_EVENTS, tracker.on_room_event)
    if e2ee.keys.remote is not None:
        e2ee.keys.remote.resync = edus.device_lists.resync_shared
    members = RoomMembers(rooms.remote.events, rooms.remote.server_name)
    return DeviceListSender(
        e2ee.stream, e2ee.keys, rooms.sender, members.remote_servers, rooms.remote.server_name
    )


def to_device_sender(rooms: FederationRooms | None) -> ToDeviceSender | None:
    """The outbound send-to-device EDU producer, when federation is on."""
    if rooms is None:
        return None
    return ToDeviceSender(rooms.sender, rooms.remote.server_name)

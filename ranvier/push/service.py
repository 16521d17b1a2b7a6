"""The push component assembled: its stores, processor, gateway sender, sync hook and
API modules, and how they plug into the rest of the server.

:class:`Push` is built once by the composition root (:mod:`ranvier.server`), which
then calls :meth:`Push.connect` with the components push listens to: the bus (every
persisted room event), the account service (deleted devices take their pushers), the
receipt service (read receipts reset counts), the upgrade follower (push rules follow
a user into an upgraded room) and the sync service (counts and default rules in
responses).
"""

from __future__ import annotations

from collections.abc import Callable

from ranvier.api.client.common import RouteDef
from ranvier.api.client.notifications import NotificationsApi
from ranvier.api.client.push_rules import PushRulesApi
from ranvier.api.client.pushers import PushersApi
from ranvier.bus import Bus, Subscription
from ranvier.db.api import Database
from ranvier.ephemeral.receipts import ReceiptService
from ranvier.push.counts import NotificationStore
from ranvier.push.email import EmailNotifier
from ranvier.push.gateway import PushGateway
from ranvier.push.processor import PushProcessor
from ranvier.push.pushers import PusherStore
from ranvier.push.rules import PushRules
from ranvier.push.sync_hook import PushSyncHook
from ranvier.rooms.outputs import ROOM_EVENTS
from ranvier.rooms.service import RoomService
from ranvier.rooms.storage import RoomStorage
from ranvier.rooms.upgrade_follow import UpgradeFollower
from ranvier.sync.service import SyncService
from ranvier.users.account_data import AccountDataStore
from ranvier.users.mailer import Mailer
from ranvier.users.service import AccountService


class Push:
    """Push rules, pushers, notification counts and the gateway sender."""

    def __init__(
        self,
        db: Database,
        storage: RoomStorage,
        account_data: AccountDataStore,
        is_local: Callable[[str], bool],
        gateway: PushGateway | None = None,
        *,
        verify_tls: bool = True,
        legacy_mentions: bool = False,
        mailer: Mailer | None = None,
        server_name: str = "",
    ) -> None:
        self.rules = PushRules(db, account_data, legacy_mentions=legacy_mentions)
        self.pushers = PusherStore(db)
        self.notifications = NotificationStore(db)
        self.gateway = (
            gateway if gateway is not None else PushGateway(self.pushers, verify_tls=verify_tls)
        )
        self.processor = PushProcessor(
            storage, self.rules, self.notifications, self.pushers, self.gateway, is_local
        )
        self.email = EmailNotifier(mailer, self.notifications, self.processor.describe, server_name)
        self.processor.email = self.email
        self.sync_hook = PushSyncHook(self.processor, self.notifications, self.rules)
        self.subscription: Subscription | None = None
        """The processor's subscription to room events (benchmarks cancel it)."""

    def connect(
        self,
        bus: Bus,
        accounts: AccountService,
        receipts: ReceiptService,
        upgrades: UpgradeFollower,
    ) -> None:
        """Subscribe to the components push reacts to (module docstring)."""
        self.subscription = bus.subscribe(ROOM_EVENTS, self.processor.on_room_event)
        accounts.device_listeners.append(self.pushers.on_device_change)
        accounts.deactivation_listeners.append(self._on_deactivation)
        receipts.read_hooks.append(self._on_receipt)
        upgrades.user_hooks.append(self.rules.copy_room_rules)

    def connect_sync(self, sync: SyncService) -> None:
        """Add unread counts and default rules to ``/sync`` responses."""
        sync.response_hooks.append(self.sync_hook)

    async def _on_deactivation(self, user_id: str, erase: bool) -> None:
        """Pushers went with the devices; an erased account's rules and notifications
        go too (they are account data in all but name)."""
        if erase:
            await self.rules.delete_user(user_id)
            await self.notifications.delete_user(user_id)

    async def _on_receipt(
        self,
        room_id: str,
        user_id: str,
        receipt_type: str,
        stream_ordering: int,
        thread_id: str | None,
    ) -> None:
        await self.processor.on_receipt(room_id, user_id, receipt_type, stream_ordering, thread_id)

    def apis(self, rooms: RoomService) -> list[list[RouteDef]]:
        """The route lists of the push API modules."""
        return [
            PushRulesApi(self.rules).routes(),
            PushersApi(self.pushers).routes(),
            NotificationsApi(self.notifications, rooms).routes(),
        ]

    async def stop(self) -> None:
        """Finish queued events, then stop sending."""
        await self.processor.stop()
        await self.email.close()
        await self.notifications.close()
        await self.gateway.close()

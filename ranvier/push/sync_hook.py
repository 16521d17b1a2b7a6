"""What push adds to ``/sync`` responses (client-server-api "Receiving notifications",
"Push Rules: Events"; sync.yaml ``unread_notifications``).

:class:`PushSyncHook` is one of :attr:`ranvier.sync.service.SyncService.response_hooks`.
For every joined room in the response it sets ``unread_notifications`` from the
stored counts, after waiting (briefly) for the push processor to have counted the
events of the sync's range, so a new count arrives with its event. On an initial (or
``full_state``) sync of a user who never changed a push rule, and so has no
``m.push_rules`` account data yet, it adds the server-default ruleset to the global
account data, so every client starts with the rules in force.
"""

from __future__ import annotations

from ranvier.core.events import JsonDict
from ranvier.push.counts import NotificationStore
from ranvier.push.processor import PushProcessor
from ranvier.push.rules import PUSH_RULES_TYPE, PushRules
from ranvier.sync.request import SyncRequest


class PushSyncHook:
    """Adds unread counts and default push rules to sync responses."""

    def __init__(
        self, processor: PushProcessor, notifications: NotificationStore, rules: PushRules
    ) -> None:
        self.processor = processor
        self.notifications = notifications
        self.rules = rules

    async def __call__(self, req: SyncRequest, body: JsonDict) -> None:
        """Fill in ``body`` for ``req`` (module docstring)."""
        join = body.get("rooms", {}).get("join", {})
        if join:
            await self.processor.caught_up(req.upto.events)
            counts = await self.notifications.counts(req.user_id)
            for room_id, entry in join.items():
                notif, highlight = counts.get(room_id, (0, 0))
                entry["unread_notifications"] = {
                    "notification_count": notif,
                    "highlight_count": highlight,
                }
        if req.since is not None and not req.full_state:
            return
        events = body.get("account_data", {}).get("events")
        if not isinstance(events, list) or any(e.get("type") == PUSH_RULES_TYPE for e in events):
            return
        if not req.filter.account_data.allows(PUSH_RULES_TYPE, None):
            return
        if await self.rules.account_data.get(req.user_id, None, PUSH_RULES_TYPE) is not None:
            return
        events.append({"type": PUSH_RULES_TYPE, "content": await self.rules.ruleset(req.user_id)})

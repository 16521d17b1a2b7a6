"""What push adds to ``/sync`` responses (client-server-api "Receiving notifications",
"Push Rules: Events"; sync.yaml ``unread_notifications``).

:class:`PushSyncHook` is one of :attr:`ranvier.sync.service.SyncService.response_hooks`.
For every joined room in the response it sets ``unread_notifications`` from the
stored counts, after waiting (briefly) for the push processor to have counted the
events of the sync's range, so a new count arrives with its event. With
``unread_thread_notifications`` in the timeline filter, ``unread_notifications``
counts the main timeline only and ``unread_thread_notifications`` each thread with
notifications (sync.yaml; "Threaded read receipts"). On an initial (or
``full_state``) sync of a user who never changed a push rule, and so has no
``m.push_rules`` account data yet, it adds the server-default ruleset to the global
account data, so every client starts with the rules in force.
"""

from __future__ import annotations

from ranvier.core.events import JsonDict
from ranvier.push.counts import MAIN, Counts, NotificationStore
from ranvier.push.processor import PushProcessor
from ranvier.push.rules import PUSH_RULES_TYPE, PushRules
from ranvier.sync.request import SyncRequest


def _json(counts: Counts) -> JsonDict:
    return {"notification_count": counts[0], "highlight_count": counts[1]}


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
            by_thread = req.filter.room.timeline.unread_thread_notifications
            counts = await self.notifications.thread_counts(req.user_id)
            for room_id, entry in join.items():
                threads = counts.get(room_id, {})
                if by_thread:
                    entry["unread_notifications"] = _json(threads.get(MAIN, (0, 0)))
                    others = {t: _json(c) for t, c in threads.items() if t != MAIN and c[0]}
                    if others:
                        entry["unread_thread_notifications"] = others
                else:
                    total = (
                        sum(c[0] for c in threads.values()),
                        sum(c[1] for c in threads.values()),
                    )
                    entry["unread_notifications"] = _json(total)
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

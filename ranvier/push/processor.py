"""Evaluating push rules for every persisted event (client-server-api "Push
Notifications": "Server behaviour", "Receiving notifications").

Theory of operation
-------------------
:meth:`PushProcessor.on_room_event` is subscribed to
:data:`~ranvier.rooms.outputs.ROOM_EVENTS`. It only appends the message to the
processor's own queue, which one worker task drains in order, so the processor
always knows which events it has not processed yet: :meth:`PushProcessor.caught_up`
lets ``/sync`` wait (briefly) until the events of its range are counted, as the spec
requires the new count to "appear in the same /sync response as the event itself".
The worker takes every queued event (up to :data:`MAX_BATCH`) at once and records
them in one transaction, so under load the per-transaction cost is shared.

For each event the worker takes the room's facts from a per-room cache (loaded from
the current state, then kept up to date by the room's membership events, so a join
to a big room does not reload its members; power levels, name and alias are re-read
when they change): joined members and their count, which of them are local, the
power levels, the creators, name and
canonical alias (for an invite over federation to a room the server is not in, the
name comes from the stripped state sent with it). The recipients are the local joined
members other than the sender, plus a local user the event invites. Each recipient's compiled rules
(:class:`~ranvier.push.rules.PushRules`) are evaluated against the PDU -- once per
event for all the users with the server defaults whom the event does not name --; those whose
actions ``notify`` are recorded with their counts in one transaction
(:class:`~ranvier.push.counts.NotificationStore`), together with "the sender has read
the room up to here" when the sender is local. Recipients with pushers are then handed
to the :class:`~ranvier.push.gateway.PushGateway`.

Read receipts come in through :meth:`PushProcessor.on_receipt` (a hook of the receipt
service): the counts are recomputed and, when they changed, the user's gateways get a
badge-only notification with the new ``unread`` count.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import orjson

from ranvier.core.auth.power_levels import CREATE_KEY, POWER_LEVELS_KEY, get_user_power_level
from ranvier.core.events import Event, JsonDict, StateKey
from ranvier.core.push_eval import RoomFacts, has_body, highlights, named_users, notifies
from ranvier.ephemeral.receipts import thread_of
from ranvier.push.counts import MAIN, NotificationStore, Notified, Recorded
from ranvier.push.email import EmailNotifier
from ranvier.push.gateway import PushGateway, PushItem
from ranvier.push.pushers import PusherStore
from ranvier.push.rules import PushRules
from ranvier.rooms.outputs import RoomEventPersisted
from ranvier.rooms.storage import RoomStorage
from ranvier.rooms.stripped_state import StrippedStateStore

logger = logging.getLogger(__name__)

NAME_KEY: StateKey = ("m.room.name", "")
ALIAS_KEY: StateKey = ("m.room.canonical_alias", "")
_FACT_KEYS = (CREATE_KEY, POWER_LEVELS_KEY, NAME_KEY, ALIAS_KEY)
MAX_BATCH = 100
"""Queued events recorded in one transaction at most."""
ROOM_TTL_S = 300.0
"""A cached room is reloaded from the database after this long (membership changes
are applied to it event by event meanwhile)."""


@dataclass(slots=True)
class RoomPushState:
    """What evaluating an event of one room needs, as of the room's current state."""

    nid: int
    joined_count: int
    local_joined: set[str]
    joined: set[str]
    """Every joined member (the count and membership changes need it)."""
    state: dict[StateKey, Event]
    notification_levels: dict[str, int]
    loaded_at: int
    """The events stream position read before loading: events up to it are in."""
    loaded_time: float
    names: dict[str, str | None] = field(default_factory=dict)
    state_stale: bool = False

    def power_of(self, user_id: str) -> float:
        """``user_id``'s power level (``inf`` for a v12 creator)."""
        return get_user_power_level(user_id, self.state)

    def room_name(self) -> str | None:
        """``m.room.name``, else the canonical alias (what push gateways display)."""
        name = self.state.get(NAME_KEY)
        if name is not None and isinstance(name.content.get("name"), str) and name.content["name"]:
            return str(name.content["name"])
        return self.room_alias()

    def room_alias(self) -> str | None:
        """The canonical alias, if any."""
        alias = self.state.get(ALIAS_KEY)
        value = None if alias is None else alias.content.get("alias")
        return value if isinstance(value, str) and value else None


def _notification_levels(state: dict[StateKey, Event]) -> dict[str, int]:
    pl = state.get(POWER_LEVELS_KEY)
    levels = None if pl is None else pl.content.get("notifications")
    out: dict[str, int] = {}
    if isinstance(levels, dict):
        for key, value in levels.items():
            if isinstance(value, int) and not isinstance(value, bool):
                out[key] = value
            elif isinstance(value, str) and value.lstrip("-").isdigit():
                out[key] = int(value)
    return out


class PushProcessor:
    """Counts notifications and feeds the push gateway (module docstring)."""

    def __init__(
        self,
        storage: RoomStorage,
        rules: PushRules,
        notifications: NotificationStore,
        pushers: PusherStore,
        gateway: PushGateway,
        is_local: Callable[[str], bool],
        room_cache_size: int = 512,
    ) -> None:
        self.storage = storage
        self.rules = rules
        self.notifications = notifications
        self.pushers = pushers
        self.gateway = gateway
        self.is_local = is_local
        self.room_cache_size = room_cache_size
        self._rooms: OrderedDict[str, RoomPushState] = OrderedDict()
        self.stripped = StrippedStateStore(storage.db)
        self._queue: deque[RoomEventPersisted] = deque()
        self._current: list[RoomEventPersisted] = []
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self.processed = 0
        self.room_loads = 0
        self.email: EmailNotifier | None = None
        """Set by :class:`ranvier.push.service.Push` to serve email pushers."""
        """How many times a room's members were loaded (tests, diagnostics)."""

    # ---- the queue ----------------------------------------------------------------

    async def on_room_event(self, msg: RoomEventPersisted) -> None:
        """Bus handler: queue the event for the worker."""
        self._queue.append(msg)
        self._wake.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self._queue.popleft() for _ in range(min(len(self._queue), MAX_BATCH))]
            self._current = batch
            try:
                await self.process_batch(batch)
            except Exception:
                logger.exception("push: processing %s failed", [m.event_id for m in batch])
            finally:
                self._current = []
                self.processed += len(batch)
                self._progress.set()
                self._progress = asyncio.Event()

    def _pending_upto(self, stream_ordering: int) -> bool:
        if any(m.stream_ordering <= stream_ordering for m in self._current):
            return True
        return any(m.stream_ordering <= stream_ordering for m in self._queue)

    async def caught_up(self, stream_ordering: int, timeout: float = 2.0) -> bool:
        """Wait until no queued event is at or before ``stream_ordering``; False if
        ``timeout`` seconds passed first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._pending_upto(stream_ordering):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), remaining)
        return True

    async def stop(self) -> None:
        """Process what is queued, then stop the worker."""
        await self.caught_up(2**62, timeout=10.0)
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    # ---- room facts ---------------------------------------------------------------

    async def room_state(self, room_id: str) -> RoomPushState | None:
        """The cached facts of a room (None for a room this server does not know)."""
        found = self._rooms.get(room_id)
        if found is not None:
            self._rooms.move_to_end(room_id)
            return found
        info = await self.storage.events.get_room(room_id)
        if info is None:
            return None
        loaded_at = await self.storage.events.stream_position()
        members = await self.storage.events.members(info.nid)
        joined = {user for user, membership, _ in members if membership == "join"}
        snapshot = await self.storage.current_state(info.nid)
        state = await self.storage.state_events(snapshot, _FACT_KEYS)
        room = RoomPushState(
            nid=info.nid,
            joined_count=len(joined),
            local_joined={u for u in joined if self.is_local(u)},
            joined=joined,
            state=state,
            notification_levels=_notification_levels(state),
            loaded_at=loaded_at,
            loaded_time=time.monotonic(),
        )
        self.room_loads += 1
        self._rooms[room_id] = room
        if len(self._rooms) > self.room_cache_size:
            self._rooms.popitem(last=False)
        return room

    def _apply_state_event(self, msg: RoomEventPersisted) -> None:
        """Bring a cached room up to date with a state event: a membership change is
        applied to the member sets (no reload: a big room's member list is O(members));
        a change of the power levels, name, alias or create event marks those for
        re-reading; a room loaded more than :data:`ROOM_TTL_S` ago is dropped."""
        room = self._rooms.get(msg.room_id)
        if room is None or msg.stream_ordering <= room.loaded_at:
            return
        if time.monotonic() - room.loaded_time > ROOM_TTL_S:
            del self._rooms[msg.room_id]
            return
        user = msg.state_key
        if msg.event_type == "m.room.member" and user is not None:
            if msg.membership == "join":
                if user not in room.joined:
                    room.joined.add(user)
                    room.joined_count += 1
                    if self.is_local(user):
                        room.local_joined.add(user)
                content = msg.pdu.get("content")
                name = content.get("displayname") if isinstance(content, dict) else None
                room.names[user] = name if isinstance(name, str) else None
            elif user in room.joined:
                room.joined.discard(user)
                room.joined_count -= 1
                room.local_joined.discard(user)
                room.names.pop(user, None)
        elif (msg.event_type, user) in _FACT_KEYS:
            room.state_stale = True

    async def _fresh_state(self, room: RoomPushState) -> None:
        if room.state_stale:
            snapshot = await self.storage.current_state(room.nid)
            room.state = await self.storage.state_events(snapshot, _FACT_KEYS)
            room.notification_levels = _notification_levels(room.state)
            room.state_stale = False

    async def display_name(self, room: RoomPushState, user_id: str) -> str | None:
        """``user_id``'s display name in the room (from their member event in the
        current state; remembered per room until the member changes)."""
        if user_id in room.names:
            return room.names[user_id]
        name: str | None = None
        if user_id in room.joined:
            snapshot = await self.storage.current_state(room.nid)
            event = await self.storage.state_event(snapshot, "m.room.member", user_id)
            value = None if event is None else event.content.get("displayname")
            name = value if isinstance(value, str) else None
        room.names[user_id] = name
        return name

    # ---- one event ----------------------------------------------------------------

    async def process(self, msg: RoomEventPersisted) -> None:
        """Evaluate, count and push one event (module docstring)."""
        await self.process_batch([msg])

    async def process_batch(self, batch: list[RoomEventPersisted]) -> None:
        """Evaluate events in order, record all their counts in one transaction, then
        push (the worker takes up to :data:`MAX_BATCH` queued events at a time)."""
        done: list[tuple[RoomPushState, RoomEventPersisted, Recorded]] = []
        for msg in batch:
            try:
                evaluated = await self.evaluate(msg)
            except Exception:
                logger.exception("push: evaluating %s failed", msg.event_id)
                continue
            if evaluated is not None:
                done.append((evaluated[0], msg, evaluated[1]))
        if not done:
            return
        await self.notifications.record_many([r for _, _, r in done])
        with_pushers = await self.pushers.users_with_pushers()
        if not with_pushers:
            return
        for room, msg, recorded in done:
            for n in recorded.notified:
                if n.user_id in with_pushers:
                    await self._push(room, msg, n)

    async def evaluate(self, msg: RoomEventPersisted) -> tuple[RoomPushState, Recorded] | None:
        """The notifications of one event (None when there is nothing to record)."""
        if msg.state_key is not None:
            self._apply_state_event(msg)
        room = await self.room_state(msg.room_id)
        if room is None:
            return None
        await self._fresh_state(room)
        recipients = [u for u in room.local_joined if u != msg.sender]
        target = msg.state_key
        if (
            msg.membership == "invite"
            and target is not None
            and target != msg.sender
            and target not in recipients
            and self.is_local(target)
        ):
            recipients.append(target)
        reader = msg.sender if self.is_local(msg.sender) else None
        if not recipients and reader is None:
            return None
        power = room.power_of(msg.sender)
        base = RoomFacts(
            member_count=room.joined_count,
            sender_power=power if not math.isinf(power) else 2**62,
            notification_levels=room.notification_levels,
        )
        notified: list[Notified] = []
        generic: Notified | bool | None = False  # False: not evaluated yet
        concerned = named_users(msg.pdu)
        legacy = self.rules.legacy_mentions and has_body(msg.pdu)
        for user_id in recipients:
            compiled = self.rules.cached(user_id) or await self.rules.compiled(user_id)
            if compiled.server_defaults and not legacy and user_id not in concerned:
                if generic is False:
                    found = self.rules.generic().evaluate(msg.pdu, base)
                    generic = None
                    if found and notifies(found):
                        encoded = orjson.dumps(found).decode()
                        generic = Notified("", found, highlights(found), encoded)
                if isinstance(generic, Notified):
                    notified.append(
                        Notified(user_id, generic.actions, generic.highlight, generic.actions_json)
                    )
                continue
            facts = base
            if compiled.uses_display_name:
                facts = replace(base, display_name=await self.display_name(room, user_id))
            actions = compiled.evaluate(msg.pdu, facts)
            if actions is not None and notifies(actions):
                notified.append(Notified(user_id, actions, highlights(actions)))
        ts = int(time.time() * 1000)
        content = msg.pdu.get("content")
        thread = thread_of(content) if isinstance(content, dict) else None
        return room, Recorded(
            msg.room_id,
            msg.event_id,
            msg.stream_ordering,
            ts,
            notified,
            reader,
            thread or MAIN,
        )

    async def _push(self, room: RoomPushState, msg: RoomEventPersisted, n: Notified) -> None:
        every = await self.pushers.for_user(n.user_id)
        if self.email is not None:
            for p in every:
                if p.kind == "email":
                    self.email.notify(p)
        pushers = [p for p in every if p.kind == "http"]
        if not pushers:
            return
        notification: JsonDict = {
            "id": msg.event_id,
            "event_id": msg.event_id,
            "room_id": msg.room_id,
            "type": msg.event_type,
            "sender": msg.sender,
            "counts": {"unread": await self.notifications.unread_total(n.user_id)},
        }
        content = msg.pdu.get("content")
        if isinstance(content, dict):
            notification["content"] = content
        sender_name = await self.display_name(room, msg.sender)
        if sender_name:
            notification["sender_display_name"] = sender_name
        room_name = room.room_name()
        if room_name is None and msg.membership in ("invite", "knock"):
            room_name = await self._stripped_name(msg.event_id)
        if room_name:
            notification["room_name"] = room_name
        alias = room.room_alias()
        if alias:
            notification["room_alias"] = alias
        if msg.membership is not None:
            notification["membership"] = msg.membership
            notification["user_is_target"] = msg.state_key == n.user_id
        for pusher in pushers:
            self.gateway.enqueue(PushItem(pusher, notification, n.actions))

    async def describe(self, user_id: str, event_id: str) -> str | None:
        """One line about a notifying event for a summary mail: room, sender, body."""
        stored = await self.storage.events.get_by_id(event_id)
        if stored is None or stored.rejected:
            return None
        event = stored.event
        room = await self.room_state(event.room_id)
        label = (room.room_name() if room is not None else None) or event.room_id
        sender = (await self.display_name(room, event.sender) if room else None) or event.sender
        body = event.content.get("body")
        text = body if isinstance(body, str) else event.type
        return f"{label} - {sender}: {text[:200]}"

    async def _stripped_name(self, event_id: str) -> str | None:
        """The room name in the stripped state that came with an invite over
        federation (the server is not in the room, so has no state of its own)."""
        stored = await self.storage.events.get_by_id(event_id)
        if stored is None:
            return None
        stripped = await self.stripped.load(stored.nid) or []
        by_type = {e.get("type"): e.get("content") for e in stripped if isinstance(e, dict)}
        for event_type, key in (("m.room.name", "name"), ("m.room.canonical_alias", "alias")):
            content = by_type.get(event_type)
            value = content.get(key) if isinstance(content, dict) else None
            if isinstance(value, str) and value:
                return value
        return None

    # ---- receipts -----------------------------------------------------------------

    async def on_receipt(
        self,
        room_id: str,
        user_id: str,
        receipt_type: str,
        stream_ordering: int,
        thread_id: str | None = None,
    ) -> None:
        """A local user's ``m.read``/``m.read.private`` receipt moved (for one thread
        when ``thread_id`` is given): recount, and send the new badge count to their
        gateways."""
        if not await self.notifications.mark_read(user_id, room_id, stream_ordering, thread_id):
            return
        if not await self.pushers.has_pushers(user_id):
            return
        unread = await self.notifications.unread_total(user_id)
        for pusher in await self.pushers.for_user(user_id):
            if pusher.kind == "http":
                self.gateway.enqueue(PushItem(pusher, {"counts": {"unread": unread}}, []))

    def forget_room(self, room_id: str) -> None:
        """Drop a room's cached facts."""
        self._rooms.pop(room_id, None)
